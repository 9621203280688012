"""Duty log, rosters, shift handovers, and sealed records (the hash chain).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

The duty log and the sealed records are append-only in the database itself: an UPDATE is always
refused, a DELETE unless the transaction holds a pruning permit (as for the alarm history). An
accepted handover is refused any change too; its sealed copy is the legal record.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
APPEND_ONLY = ("duty_log", "sealed_records")


def _sqlite_ddl() -> list[str]:
    ddl = []
    for table in APPEND_ONLY:
        refuse = f"'{table} is append-only: a saved record is never changed'"
        ddl += [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, {refuse}); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "WHEN NOT EXISTS (SELECT 1 FROM pruning_permit) "
            f"BEGIN SELECT RAISE(ABORT, {refuse}); END",
        ]
    ddl.append(
        "CREATE TRIGGER duty_handovers_sealed BEFORE UPDATE ON duty_handovers "
        "WHEN OLD.status = 'accepted' "
        "BEGIN SELECT RAISE(ABORT, 'an accepted handover is sealed and never changed'); END"
    )
    return ddl


def _postgresql_ddl() -> list[str]:
    ddl = [
        "CREATE OR REPLACE FUNCTION sitewatch_sealed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM pruning_permit) THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only: a saved record is never changed', TG_TABLE_NAME; "
        "END $$",
        "CREATE OR REPLACE FUNCTION sitewatch_handover_sealed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN IF OLD.status = 'accepted' THEN "
        "RAISE EXCEPTION 'an accepted handover is sealed and never changed'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER duty_handovers_sealed BEFORE UPDATE ON duty_handovers "
        "FOR EACH ROW EXECUTE FUNCTION sitewatch_handover_sealed()",
    ]
    for table in APPEND_ONLY:
        ddl.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION sitewatch_sealed()"
        )
    return ddl


def upgrade() -> None:
    op.create_table(
        "sealed_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sealed_at", Time, nullable=False),
        sa.Column("sealed_by", sa.String(400), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("seq", name="uq_sealed_seq"),
        sa.UniqueConstraint("prev_hash", name="uq_sealed_prev"),
    )
    op.create_index("ix_sealed_kind", "sealed_records", ["site", "kind", "ref"])
    op.create_table(
        "duty_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("shift", sa.String(64), nullable=False),
        sa.Column("shift_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("alarm_id", sa.Integer(), sa.ForeignKey("alarms.id")),
        sa.Column("location", sa.String(200)),
        sa.Column("cause", sa.Text()),
        sa.Column("handling", sa.Text()),
        sa.Column("details", sa.JSON()),
        sa.Column("corrects_id", sa.Integer(), sa.ForeignKey("duty_log.id")),
    )
    op.create_index("ix_duty_log_at", "duty_log", ["site", "at"])
    op.create_index("ix_duty_log_alarm_id", "duty_log", ["alarm_id"])
    op.create_table(
        "duty_rosters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("shift", sa.String(64), nullable=False),
        sa.Column("shift_date", sa.Date(), nullable=False),
        sa.Column("staff", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(120), nullable=False),
        sa.Column("set_at", Time, nullable=False),
        sa.UniqueConstraint("site", "shift", "shift_date", name="uq_duty_roster"),
    )
    op.create_table(
        "duty_handovers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("shift", sa.String(64), nullable=False),
        sa.Column("shift_date", sa.Date(), nullable=False),
        sa.Column("incoming_shift", sa.String(64), nullable=False),
        sa.Column("incoming_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("outgoing", sa.JSON(), nullable=False),
        sa.Column("incoming", sa.JSON()),
        sa.Column("remarks", sa.Text()),
        sa.Column("signed_at", Time, nullable=False),
        sa.Column("accepted_at", Time),
        sa.Column("sealed_id", sa.Integer(), sa.ForeignKey("sealed_records.id")),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("site", "shift", "shift_date", name="uq_duty_handover"),
    )
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _sqlite_ddl, "postgresql": _postgresql_ddl}.get(dialect, list)():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS sitewatch_sealed() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS sitewatch_handover_sealed() CASCADE")
    for table in ("duty_handovers", "duty_rosters", "duty_log", "sealed_records"):
        op.drop_table(table)
