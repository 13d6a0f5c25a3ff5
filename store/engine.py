"""The write engine: transactions, group commit, SQLite's cross-process file lock, store health.

Mechanism only; what is written is decided in ledger.py and retry.py. Every SQLAlchemy error that leaves
this module's context managers is translated into errors.StoreUnavailable: nothing above the store sees one.
"""

import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager, nullcontext

from sqlalchemy.exc import SQLAlchemyError

from errors import StoreUnavailable
from store.cooperative import lock_exclusive
from store.group_commit import GroupCommit


def lock_key(*parts):
    """A stable signed 64-bit key for an advisory lock (Python's hash() differs per process)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _FileLock:
    """SQLite has one writer at a time. Writing processes queue on an flock beside the database file
    and block until it is free: SQLite's own busy handler polls with sleeps of up to 100 ms, which
    cost most of the throughput when two web processes write."""

    def __init__(self, path):
        self.path, self.fd = path, None

    def __enter__(self):
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        lock_exclusive(self.fd)  # under gevent a cooperative wait: the worker's other requests go on

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def sqlite_path(engine):
    """The database file of a SQLite engine, or None (another database, or in memory)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    return os.path.abspath(path) if path and path != ":memory:" else None


@contextmanager
def translated():
    """Any SQLAlchemy or file-system failure of the store becomes StoreUnavailable."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(type(exc).__name__) from None


class WriteEngine(GroupCommit):
    """One write connection per process; writers serialized per process (and per file on SQLite)."""

    def __init__(self, engine):
        self.engine = engine
        self.postgres, self.sqlite = engine.dialect.name == "postgresql", engine.dialect.name == "sqlite"
        self._path = sqlite_path(engine)
        self._file_lock = _FileLock(self._path + ".writelock") if self._path else nullcontext()
        self._thread_lock = threading.Lock()  # one writing thread per process at a time
        self._queue, self._queue_lock = [], threading.Lock()  # jobs waiting for group commit
        self._conn, self._identity = None, None  # the write connection and the file it was opened on

    @property
    def file_lock(self):
        """The cross-process write lock (SQLite), a no-op context elsewhere."""
        return self._file_lock

    def problems(self):
        """Why the store cannot take writes now (a vanished or replaced SQLite file), or []."""
        if not self._path:
            return []
        try:
            st = os.stat(self._path)
        except OSError:
            return ["the ledger file is gone (deleted, or its volume vanished)"]
        if self._identity is not None and self._identity != (st.st_dev, st.st_ino):
            return ["the ledger file was replaced while the service ran"]
        if not os.access(self._path, os.W_OK):
            return ["the ledger file is read-only"]
        return []

    def _open(self):
        if self._conn is None:
            self._conn = self.engine.connect()
            if self._path:
                st = os.stat(self._path)
                self._identity = (st.st_dev, st.st_ino)
        problems = self.problems()
        if problems:
            self._drop()
            raise StoreUnavailable(problems[0])
        return self._conn

    def _drop(self):
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
        self._conn, self._identity = None, None

    @contextmanager
    def _transaction(self):
        """A write transaction on the process's write connection (caller holds _thread_lock)."""
        try:
            with translated(), self._file_lock:
                conn = self._open()
                with self._begun(conn, write=True):
                    yield conn
        except StoreUnavailable:
            self._drop()
            raise

    @contextmanager
    def writing(self):
        """One exclusive write transaction (a Core connection), committed on success."""
        with self._thread_lock, self._transaction() as conn:
            yield conn

    @contextmanager
    def reading(self):
        """A read transaction on a connection from the pool, store failures translated."""
        with translated(), self.engine.connect() as conn, self._begun(conn, write=False):
            yield conn

    @contextmanager
    def _begun(self, conn, write):
        """A transaction on `conn`. SQLite's driver is left in autocommit (db.py) and the transaction begun
        here: a write one takes the write lock up front (BEGIN IMMEDIATE), since a deferred one that reads
        and then writes can fail with SQLITE_BUSY when another writer got there first, whatever the busy
        timeout. Begun here rather than in a "begin" event listener: any engine listener makes SQLAlchemy
        fire its execution events around every statement, a sixth of each statement's CPU."""
        with conn.begin():
            if self.sqlite:
                conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield

    @contextmanager
    def _autocommit(self):
        """The write connection in autocommit (PostgreSQL; caller holds _thread_lock): each statement its own
        transaction. It goes back to the engine's isolation level before the next transaction."""
        try:
            with translated():
                conn = self._open().execution_options(isolation_level="AUTOCOMMIT")
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.execution_options(isolation_level=conn.default_isolation_level)
        except StoreUnavailable:
            self._drop()
            raise

    def close(self):
        """Close the write connection and the engine's pool."""
        with self._thread_lock:
            self._drop()
        self.engine.dispose()
