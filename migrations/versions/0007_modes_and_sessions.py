"""Rows carry their mode (live or sandbox: a process claims only rows of its own); console sessions kept
server-side (logout ends them); failed console logins counted per client (the lockout is the client's).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # Every row written before modes existed is taken as live: the sandbox wrote to its own SQLite file.
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="live"))
    with op.batch_alter_table("worker_heartbeats") as batch:  # a sandbox worker is not the live one
        batch.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="live"))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's random id, never the id
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("search_address", sa.String(320)),  # the operator's last search, cleared at logout
    )
    op.create_table(
        "login_failures",
        sa.Column("client", sa.String(64), primary_key=True),  # a digest of the client's address (or /64)
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_at", sa.DateTime, nullable=False),
        sa.Column("locked_until", sa.DateTime),
    )


def downgrade():
    op.drop_table("login_failures")
    op.drop_table("console_sessions")
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.drop_column("mode")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("mode")
