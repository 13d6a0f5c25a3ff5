"""Engine creation and schema migrations (Alembic): at process start under a lock, or `flask db upgrade`."""

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event

from store.statements import MIGRATION_LOCK

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
MIGRATION_LOCK_KEY = 0x756E737562  # one advisory lock key for every process that migrates this database


def _sqlite_pragmas(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # the write engine begins transactions itself (engine.py)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url):
    """An engine for DATABASE_URL; SQLite gets WAL mode and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # paramstyle "named" (sqlite3 takes both): store/hot.py passes the hot statements' values by name.
        engine = create_engine(url, hide_parameters=True, paramstyle="named",
                               connect_args={"timeout": 10, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # hide_parameters: error messages must not carry addresses (personal data) into logs.
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _config(engine, connection=None):
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["engine"] = engine
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine, revision="head"):
    """Create or upgrade the schema to `revision`."""
    command.upgrade(_config(engine), revision)


def current_revision(connection):
    """The schema's revision on this connection, or None for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine, file_lock):
    """Upgrade to head as one of many processes starting at once: (revision before, revision after).

    PostgreSQL: the whole upgrade runs in one transaction holding a transaction-scoped advisory lock on
    its own connection (a session lock could leak through the pool); the others wait, then find nothing
    to do. SQLite: under the ledger's write file lock, which every writing process takes.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(MIGRATION_LOCK, {"key": MIGRATION_LOCK_KEY})
            before = current_revision(conn)
            command.upgrade(_config(engine, conn), "head")
            return before, current_revision(conn)
    with file_lock:
        with engine.connect() as conn:
            before = current_revision(conn)
        upgrade(engine)
        with engine.connect() as conn:
            return before, current_revision(conn)
