"""Every delivery keeps where its opt-out came from (channel, how it was authenticated, when it was received)
and the vendor's read-back of it (when due, resends of a contact still subscribed, what the vendor said).

Rows written before keep NULL provenance and no read-back due (they were never scheduled); the partial index
holds only the rows waiting for a read-back, so it stays small however large the ledger grows.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DUE = "confirm_due_at IS NOT NULL"


def columns():
    """Fresh Column objects each call (a Column belongs to one table)."""
    return [sa.Column("channel", sa.String(32)), sa.Column("auth_method", sa.String(32)),
            sa.Column("received_at", sa.DateTime), sa.Column("confirm_due_at", sa.DateTime),
            sa.Column("confirm_attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("confirmed_at", sa.DateTime), sa.Column("confirmation", sa.String(24)),
            sa.Column("confirmation_detail", sa.Text), sa.Column("confirmed_until", sa.Date)]


def upgrade():
    # Plain ADD COLUMNs (SQLite has them): a batch that copied the table would lose the expression index on
    # lower(target), which SQLite's reflection cannot read back.
    for column in columns():
        op.add_column("deliveries", column)
    op.create_index("ix_deliveries_confirm_due", "deliveries", ["confirm_due_at"],
                    sqlite_where=sa.text(DUE), postgresql_where=sa.text(DUE))


def downgrade():
    op.drop_index("ix_deliveries_confirm_due", table_name="deliveries")
    for column in reversed(columns()):
        op.drop_column("deliveries", column.name)  # SQLite 3.35+ drops a column in place
