"""The operator log: what was done in the console, and refused logins (the lockout counts them).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "operator_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_operator_log_at", "operator_log", ["at"])


def downgrade():
    op.drop_index("ix_operator_log_at", "operator_log")
    op.drop_table("operator_log")
