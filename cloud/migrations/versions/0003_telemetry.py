"""Embedded telemetry: raw samples, their 1-minute roll-ups, and samples parked for InfluxDB.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen here: a revision must not change when cloud.telemetry.tables does.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _sample_columns() -> list[sa.Column]:
    return [
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("point", sa.String(64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
    ]


def upgrade() -> None:
    # A database that `create_all` made from the current models before migrations existed is
    # stamped 0002 by cloud.db and already has these tables: leave them as they are.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "telemetry_raw" not in existing:
        op.create_table("telemetry_raw", *_sample_columns())
        op.create_index(
            "ix_telemetry_raw_point", "telemetry_raw", ["site", "node", "device", "point", "ts"]
        )
        op.create_index("ix_telemetry_raw_ts", "telemetry_raw", ["ts"])
    if "telemetry_1m" not in existing:
        op.create_table(
            "telemetry_1m",
            sa.Column("site", sa.String(64), primary_key=True),
            sa.Column("node", sa.String(64), primary_key=True),
            sa.Column("device", sa.String(64), primary_key=True),
            sa.Column("point", sa.String(64), primary_key=True),
            sa.Column("bucket", sa.BigInteger(), primary_key=True),
            sa.Column("min", sa.Float(), nullable=False),
            sa.Column("avg", sa.Float(), nullable=False),
            sa.Column("max", sa.Float(), nullable=False),
            sa.Column("count", sa.BigInteger(), nullable=False),
        )
    if "telemetry_parked" not in existing:
        op.create_table("telemetry_parked", *_sample_columns())


def downgrade() -> None:
    op.drop_table("telemetry_parked")
    op.drop_table("telemetry_1m")
    op.drop_index("ix_telemetry_raw_ts", "telemetry_raw")
    op.drop_index("ix_telemetry_raw_point", "telemetry_raw")
    op.drop_table("telemetry_raw")
