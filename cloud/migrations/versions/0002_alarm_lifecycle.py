"""The alarm life cycle: one alarm row per source and condition, its occurrences in its history;
maintenance tags; append-only alarm history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Data: per (site, node, device, point, condition) the newest occurrence row (the highest id) is
kept and the history of the older occurrences is moved onto it, so nothing an operator did is
lost. States keep their names; `closed_at` goes (a closed occurrence is simply `normal`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
SOURCE = ("site", "node", "device", "point", "condition")

# The alarm history is the operators' audit trail: the database itself refuses to change it.
# DROP + CREATE rather than CREATE OR REPLACE TRIGGER, which needs PostgreSQL 14.
APPEND_ONLY_DDL = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS alarm_events_no_update BEFORE UPDATE ON alarm_events "
        "BEGIN SELECT RAISE(ABORT, 'alarm history is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS alarm_events_no_delete BEFORE DELETE ON alarm_events "
        "BEGIN SELECT RAISE(ABORT, 'alarm history is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION sitewatch_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'alarm history is append-only'; END $$",
        "DROP TRIGGER IF EXISTS alarm_events_append_only ON alarm_events",
        "CREATE TRIGGER alarm_events_append_only BEFORE UPDATE OR DELETE "
        "ON alarm_events FOR EACH ROW EXECUTE FUNCTION sitewatch_append_only()",
    ],
}

# Lightweight views of the tables as 0001 left them, for the data migration.
alarms = sa.table(
    "alarms",
    *(sa.column(name, sa.String) for name in (*SOURCE, "category", "state")),
    sa.column("id", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("raw_active", sa.Boolean),
    sa.column("latched", sa.Boolean),
    sa.column("raised_at", Time),
    sa.column("changed_at", Time),
    sa.column("acked_by", sa.String),
    sa.column("acked_at", Time),
    sa.column("version", sa.Integer),
)
events = sa.table(
    "alarm_events",
    sa.column("id", sa.Integer),
    sa.column("alarm_id", sa.Integer),
    sa.column("at", Time),
    sa.column("event", sa.String),
    sa.column("by", sa.String),
)

NEW_ALARM_COLUMNS = (
    sa.Column("raw_active", sa.Boolean(), nullable=True),
    sa.Column("due_at", Time, nullable=True),
    sa.Column("latched", sa.Boolean(), nullable=True),
    sa.Column("changed_at", Time, nullable=True),
    sa.Column("acked_by", sa.String(120), nullable=True),
    sa.Column("acked_at", Time, nullable=True),
    sa.Column("shelved_until", Time, nullable=True),
    sa.Column("shelved_by", sa.String(120), nullable=True),
    sa.Column("shelve_reason", sa.Text(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=True),
)


def upgrade() -> None:
    _payload_as_text()
    for column in NEW_ALARM_COLUMNS:
        op.add_column("alarms", column)
    _merge_occurrences()
    with op.batch_alter_table("alarms") as batch:
        batch.drop_index("ix_alarm_source")
        batch.drop_column("closed_at")
        batch.alter_column("raised_at", existing_type=Time, nullable=True)
        for name, kind in (
            ("raw_active", sa.Boolean()),
            ("latched", sa.Boolean()),
            ("changed_at", Time),
            ("version", sa.Integer()),
        ):
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.create_unique_constraint("uq_alarm_source", list(SOURCE))
        batch.create_index("ix_alarm_state", ["state"])
        batch.create_index("ix_alarms_due_at", ["due_at"])
    op.create_index("ix_alarm_events_at", "alarm_events", ["at"])
    op.create_table(
        "equipment_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("tagged_by", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tagged_at", Time, nullable=False),
        sa.Column("removed_by", sa.String(120), nullable=True),
        sa.Column("removed_at", Time, nullable=True),
        sa.Column("removed_note", sa.Text(), nullable=True),
    )
    op.create_index("ix_equipment_tag_device", "equipment_tags", ["site", "node", "device"])
    # Last: the history is rewritten above, and may not be from here on.
    for statement in APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def _payload_as_text() -> None:
    """Databases made before the bulk ingest stored `messages.payload` as JSON; it is JSON text
    now (kept as the edge sent it). JSON text is valid as it is: only the column type changes."""
    columns = sa.inspect(op.get_bind()).get_columns("messages")
    payload = next(column for column in columns if column["name"] == "payload")
    if isinstance(payload["type"], sa.JSON):
        with op.batch_alter_table("messages") as batch:
            batch.alter_column(
                "payload",
                existing_type=sa.JSON(),
                type_=sa.Text(),
                existing_nullable=False,
                postgresql_using="payload::text",
            )


def _merge_occurrences() -> None:
    # Who acknowledged the current occurrence: its own history, before the older ones join it.
    def last_ack(column: sa.ColumnClause) -> sa.ScalarSelect:
        return (
            sa.select(column)
            .where(events.c.alarm_id == alarms.c.id, events.c.event == "acknowledged")
            .order_by(events.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    op.execute(
        alarms.update().values(acked_by=last_ack(events.c.by), acked_at=last_ack(events.c.at))
    )
    keeper, old = alarms.alias("keeper"), alarms.alias("old")
    newest = (
        sa.select(sa.func.max(keeper.c.id))
        .where(old.c.id == events.c.alarm_id, *(keeper.c[k] == old.c[k] for k in SOURCE))
        .scalar_subquery()
    )
    op.execute(events.update().values(alarm_id=newest))
    keepers = sa.select(sa.func.max(alarms.c.id)).group_by(*(alarms.c[k] for k in SOURCE))
    op.execute(alarms.delete().where(alarms.c.id.not_in(keepers)))
    last_event = (
        sa.select(sa.func.max(events.c.at)).where(events.c.alarm_id == alarms.c.id)
    ).scalar_subquery()
    op.execute(
        alarms.update().values(
            raw_active=alarms.c.active,
            latched=sa.case(
                (sa.and_(alarms.c.category == "fire", alarms.c.state != "normal"), sa.true()),
                else_=sa.false(),
            ),
            changed_at=sa.func.coalesce(last_event, alarms.c.raised_at),
            version=1,
        )
    )


def downgrade() -> None:
    raise NotImplementedError(
        "0002 merged each alarm's occurrences into one row; going back is not supported "
        "(restore the backup taken before `sitewatch cloud migrate`)"
    )
