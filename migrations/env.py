"""Alembic environment: the caller's connection (a migration under a lock) or a connection of its engine."""

from alembic import context

from store.models import Base


def run(connection):
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():  # a no-op inside the caller's transaction
        context.run_migrations()


shared = context.config.attributes.get("connection")
if shared is not None:
    run(shared)
else:
    with context.config.attributes["engine"].connect() as connection:
        run(connection)
        connection.commit()
