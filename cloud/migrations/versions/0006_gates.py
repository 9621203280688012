"""Parking gates: cards and their history, card list versions, gate list status, gate passes,
vehicles registered at the booth.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
LIVE = sa.text("status != 'expired'")


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("card", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("unit", sa.String(64)),
        sa.Column("plates", sa.JSON(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid_from", Time),
        sa.Column("valid_until", Time),
        sa.Column("lanes", sa.JSON()),
        sa.Column("notes", sa.Text()),
        sa.Column("reported_lost_at", Time),
        sa.Column("reported_lost_by", sa.String(120)),
        sa.Column("lost_in_version", sa.BigInteger()),
        sa.Column("replaces_id", sa.Integer(), sa.ForeignKey("cards.id")),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_card_live", "cards", ["site", "card"], unique=True,
        sqlite_where=LIVE, postgresql_where=LIVE,
    )  # fmt: skip
    op.create_table(
        "card_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("card_id", sa.Integer(), sa.ForeignKey("cards.id"), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("by", sa.String(120), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("detail", sa.JSON()),
    )
    op.create_index("ix_card_events_card_id", "card_events", ["card_id"])
    op.create_table(
        "card_list_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.UniqueConstraint("site", "version", name="uq_card_list_version"),
    )
    op.create_table(
        "gate_list_status",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("loaded_at", Time, nullable=False),
        sa.Column("count", sa.Integer()),
        sa.UniqueConstraint("site", "node", name="uq_gate_list_status"),
    )
    op.create_table(
        "gate_list_loads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("loaded_at", Time, nullable=False),
    )
    op.create_index("ix_gate_list_loads", "gate_list_loads", ["site", "version"])
    op.create_table(
        "gate_passes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("reader", sa.String(64)),
        sa.Column("card", sa.String(64)),
        sa.Column("card_type", sa.String(16)),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("violation", sa.Boolean(), nullable=False),
        sa.Column("list_version", sa.BigInteger()),
        sa.Column("decide_ms", sa.Float()),
        sa.Column("relay_confirmed", sa.Boolean()),
        sa.Column("by", sa.String(120)),
        sa.Column("note", sa.Text()),
        sa.Column("at", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
    )
    op.create_index("ix_gate_passes_at", "gate_passes", ["site", "at"])
    op.create_index("ix_gate_passes_card", "gate_passes", ["site", "card", "at"])
    op.create_table(
        "vehicle_registrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("driver", sa.String(120)),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("pass_id", sa.Integer(), sa.ForeignKey("gate_passes.id")),
        sa.Column("let_through", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(120), nullable=False),
        sa.Column("at", Time, nullable=False),
    )
    op.create_index("ix_vehicle_registrations_at", "vehicle_registrations", ["site", "at"])


def downgrade() -> None:
    for table in (
        "vehicle_registrations", "gate_passes", "gate_list_loads", "gate_list_status",
        "card_list_versions", "card_events", "cards",
    ):  # fmt: skip
        op.drop_table(table)
