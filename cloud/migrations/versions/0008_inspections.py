"""Signed weekly pump-room inspections, append-only like the other sealed records.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
REFUSE = "'inspections is append-only: a saved record is never changed'"


def upgrade() -> None:
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("engineer", sa.String(120), nullable=False),
        sa.Column("signed_at", Time, nullable=False),
        sa.Column("sealed_id", sa.Integer(), sa.ForeignKey("sealed_records.id"), nullable=False),
        sa.UniqueConstraint("site", "room", "week_start", name="uq_inspection_week"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # sitewatch_sealed() comes with 0007: refuses UPDATE, and DELETE without a permit.
        op.execute(
            "CREATE TRIGGER inspections_append_only BEFORE UPDATE OR DELETE ON inspections "
            "FOR EACH ROW EXECUTE FUNCTION sitewatch_sealed()"
        )
    elif op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER inspections_no_update BEFORE UPDATE ON inspections "
            f"BEGIN SELECT RAISE(ABORT, {REFUSE}); END"
        )
        op.execute(
            "CREATE TRIGGER inspections_no_delete BEFORE DELETE ON inspections "
            f"WHEN NOT EXISTS (SELECT 1 FROM pruning_permit) BEGIN SELECT RAISE(ABORT, {REFUSE}); END"
        )


def downgrade() -> None:
    op.drop_table("inspections")
