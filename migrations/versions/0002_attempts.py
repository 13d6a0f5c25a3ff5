"""Every attempt on record; idempotency keys bound to a request fingerprint and leased.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(32), sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("code", sa.String(32)),
        sa.Column("text", sa.Text),
        sa.Column("error_kind", sa.String(24)),
    )
    op.create_index("ix_attempts_delivery_id", "attempts", ["delivery_id"])
    with op.batch_alter_table("webhook_requests") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64)))
        batch.add_column(sa.Column("lease_until", sa.DateTime))


def downgrade():
    with op.batch_alter_table("webhook_requests") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("fingerprint")
    op.drop_index("ix_attempts_delivery_id", "attempts")
    op.drop_table("attempts")
