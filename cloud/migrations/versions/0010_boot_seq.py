"""The seq of each node's current boot, so a message whose boot goes backwards is refused.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that `create_all` made from the current models before migrations existed
    # (stamped 0002 by cloud.db) has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("nodes")}
    if "boot_seq" not in columns:
        with op.batch_alter_table("nodes") as batch:
            batch.add_column(sa.Column("boot_seq", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("boot_seq")
