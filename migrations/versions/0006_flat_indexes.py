"""Indexes that keep the operator's look-ups flat as the ledger grows: one on lower(target) (the dedup
look-up and the case-insensitive search share it, replacing the index on target), one on created_at (purge).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_deliveries_target", "deliveries",
                    [sa.text("lower(target)"), "destination", "created_at"])
    op.drop_index("ix_deliveries_dedup", "deliveries")
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])


def downgrade():
    op.drop_index("ix_deliveries_created_at", "deliveries")
    op.create_index("ix_deliveries_dedup", "deliveries", ["target", "destination", "created_at"])
    op.drop_index("ix_deliveries_target", "deliveries")
