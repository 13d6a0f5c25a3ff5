"""Per-destination gates: circuit breaker and delivery-rate bucket.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "destination_gates",
        sa.Column("destination", sa.String(16), primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("failed_probes", sa.Integer, nullable=False),
        sa.Column("probing", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.DateTime),
        sa.Column("next_probe_at", sa.DateTime),
        sa.Column("reason", sa.Text),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("tokens_at", sa.DateTime),
    )


def downgrade():
    op.drop_table("destination_gates")
