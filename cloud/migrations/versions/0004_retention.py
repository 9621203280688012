"""Retention: how far each stream was pruned, and the permit that lets only the pruning job
delete old alarm history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The history stays append-only for everyone else: an UPDATE is always refused, a DELETE unless
the deleting transaction holds a row in `pruning_permit` (cloud/retention.py adds it, prunes and
removes it before committing, so no other transaction ever sees one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REFUSE = "'alarm history is append-only'"
# Both triggers are (re)made whole, so a database that lost one (or was made without) has both.
PERMITTED_DDL = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS alarm_events_no_update BEFORE UPDATE ON alarm_events "
        f"BEGIN SELECT RAISE(ABORT, {REFUSE}); END",
        "DROP TRIGGER IF EXISTS alarm_events_no_delete",
        "CREATE TRIGGER alarm_events_no_delete BEFORE DELETE ON alarm_events "
        "WHEN NOT EXISTS (SELECT 1 FROM pruning_permit) "
        f"BEGIN SELECT RAISE(ABORT, {REFUSE}); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION sitewatch_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN "
        "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM pruning_permit) THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION {REFUSE}; END $$",
        "DROP TRIGGER IF EXISTS alarm_events_append_only ON alarm_events",
        "CREATE TRIGGER alarm_events_append_only BEFORE UPDATE OR DELETE "
        "ON alarm_events FOR EACH ROW EXECUTE FUNCTION sitewatch_append_only()",
    ],
}
# What 0002 left (0003 did not touch the triggers), for the way back.
STRICT_DDL = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS alarm_events_no_delete",
        "CREATE TRIGGER alarm_events_no_delete BEFORE DELETE ON alarm_events "
        f"BEGIN SELECT RAISE(ABORT, {REFUSE}); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION sitewatch_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION {REFUSE}; END $$",
    ],
}


def upgrade() -> None:
    op.create_table(
        "stream_floors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("site", "node", "stream", name="uq_stream_floor"),
    )
    op.create_table(
        "pruning_permit",
        sa.Column("holder", sa.String(32), primary_key=True),
    )
    for statement in PERMITTED_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in STRICT_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_table("pruning_permit")
    op.drop_table("stream_floors")
