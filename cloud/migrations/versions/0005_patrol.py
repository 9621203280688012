"""Patrol: tours, their checkpoint visits, taps at checkpoints, incidents.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patrol_tours",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("guard", sa.String(64)),
        sa.Column("scheduled_at", Time),
        sa.Column("started_at", Time),
        sa.Column("ended_at", Time),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_tap_at", Time),
        sa.Column("lone_alarm", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("site", "route", "scheduled_at", name="uq_patrol_slot"),
    )
    op.create_index("ix_patrol_tours_status", "patrol_tours", ["site", "status"])
    op.create_index("ix_patrol_tours_started", "patrol_tours", ["site", "started_at"])
    op.create_table(
        "patrol_visits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tour_id", sa.Integer(), sa.ForeignKey("patrol_tours.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sa.String(64), nullable=False),
        sa.Column("expected_at", Time, nullable=False),
        sa.Column("window_from", Time, nullable=False),
        sa.Column("window_to", Time, nullable=False),
        sa.Column("due_by", Time, nullable=False),
        sa.Column("tapped_at", Time),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("late_s", sa.Float()),
        sa.UniqueConstraint("tour_id", "position", name="uq_patrol_visit"),
    )
    op.create_index("ix_patrol_visits_tour_id", "patrol_visits", ["tour_id"])
    op.create_index("ix_patrol_visits_due_by", "patrol_visits", ["due_by"])
    op.create_table(
        "patrol_taps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("reader", sa.String(64), nullable=False),
        sa.Column("checkpoint", sa.String(64), nullable=False),
        sa.Column("card", sa.String(64), nullable=False),
        sa.Column("guard", sa.String(64)),
        sa.Column("at", Time, nullable=False),
        sa.Column("tour_id", sa.Integer(), sa.ForeignKey("patrol_tours.id")),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("received_at", Time, nullable=False),
    )
    op.create_index("ix_patrol_taps_at", "patrol_taps", ["site", "at"])
    op.create_index("ix_patrol_taps_tour_id", "patrol_taps", ["tour_id"])
    op.create_table(
        "patrol_incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("tour_id", sa.Integer(), sa.ForeignKey("patrol_tours.id")),
        sa.Column("checkpoint", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(120), nullable=False),
        sa.Column("reported_at", Time, nullable=False),
        sa.Column("alarm_id", sa.Integer(), sa.ForeignKey("alarms.id")),
    )
    op.create_index("ix_patrol_incidents_at", "patrol_incidents", ["site", "reported_at"])


def downgrade() -> None:
    op.drop_table("patrol_incidents")
    op.drop_table("patrol_taps")
    op.drop_table("patrol_visits")
    op.drop_table("patrol_tours")
