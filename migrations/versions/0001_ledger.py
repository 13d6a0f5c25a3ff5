"""The ledger: webhook requests and deliveries.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(300), unique=True),
        sa.Column("http_status", sa.Integer),
        sa.Column("answer", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_webhook_requests_created_at", "webhook_requests", ["created_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("item_index", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(300)),
        sa.Column("destination", sa.String(16), nullable=False),
        sa.Column("target", sa.String(320), nullable=False),
        sa.Column("group_name", sa.String(255)),
        sa.Column("campaign", sa.String(32)),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(24)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_code", sa.String(32)),
        sa.Column("last_text", sa.Text),
        sa.Column("error_kind", sa.String(24)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("retry_since", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("lease_owner", sa.String(32)),
        sa.Column("lease_until", sa.DateTime),
    )
    op.create_index("ix_deliveries_request_id", "deliveries", ["request_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_dedup", "deliveries", ["target", "destination", "created_at"])


def downgrade():
    op.drop_table("deliveries")
    op.drop_table("webhook_requests")
