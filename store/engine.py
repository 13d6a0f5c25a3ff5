"""The write engine: transactions, SQLite's cross-process file lock, group commit, store health.

Mechanism only; what is written is decided in ledger.py and retry.py. Every SQLAlchemy error that leaves
this module's context managers is translated into errors.StoreUnavailable: nothing above the store sees one.
"""

import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager, nullcontext

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT
from sqlalchemy.exc import SQLAlchemyError

from errors import StoreUnavailable
from store.cooperative import lock_exclusive

# Transaction-scoped advisory locks, taken in one sorted order so two transactions never deadlock.
PG_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(:keys) AS k ORDER BY 1) AS s") \
    .bindparams(bindparam("keys", type_=ARRAY(BIGINT)))


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


class _Job:
    """One piece of write work waiting for a shared transaction."""

    __slots__ = ("work", "locks", "result", "error", "done")

    def __init__(self, work, locks):
        self.work, self.locks, self.result, self.error, self.done = work, locks, None, None, False


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


def _savepoint(cursor, statement):
    try:
        cursor.execute(statement)
    except Exception as exc:  # noqa: BLE001 - a driver error: the whole transaction is lost
        raise StoreUnavailable(type(exc).__name__) from None


class WriteEngine:
    """One write connection per process; writers serialized per process (and per file on SQLite)."""

    def __init__(self, engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._writer = engine.execution_options(sqlite_write=True)
        self._path = sqlite_path(engine)
        self._file_lock = _FileLock(self._path + ".writelock") if self._path else nullcontext()
        self._thread_lock = threading.Lock()  # one writing thread per process at a time
        self._queue, self._queue_lock = [], threading.Lock()
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
            self._conn = self._writer.connect()
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
                with conn.begin():
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
        """A read connection from the pool, store failures translated."""
        with translated(), self.engine.connect() as conn:
            yield conn

    def combined(self, work, locks=()):
        """Run work(conn) in a write transaction shared with the work other threads queued meanwhile.

        Group commit by flat combining: whoever gets the lock runs everything queued in one transaction,
        so under load a commit (and on SQLite the file lock) serves many requests. Each job of a batch runs
        under its own savepoint: one job's failure (a value the database refuses) rolls back that job alone
        (a job alone in its transaction needs none: SAVEPOINT and RELEASE were a tenth of its profile). On
        PostgreSQL the advisory `locks` of every job are taken first, in one order, and held to the commit.
        """
        job = _Job(work, locks)
        with self._queue_lock:
            self._queue.append(job)
        with self._thread_lock:
            if not job.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._run(batch)
        if job.error is not None:
            raise job.error
        return job.result

    def _run(self, batch):
        try:
            with self._transaction() as conn:
                keys = sorted({key for job in batch for key in job.locks})
                if keys and self.postgres:
                    conn.execute(PG_LOCKS, {"keys": keys})
                if len(batch) == 1:  # alone in its transaction: no savepoint needed to keep others apart
                    batch[0].result = batch[0].work(conn)
                else:
                    for job in batch:
                        self._run_one(conn, job)
        except StoreUnavailable as exc:
            for job in batch:
                job.error = job.error or exc
        except BaseException as exc:  # a timeout or exit raised in a job: the transaction is gone for all
            for job in batch:
                job.error = job.error or StoreUnavailable(type(exc).__name__)
            raise
        finally:
            for job in batch:
                job.done = True

    @staticmethod
    def _run_one(conn, job):
        """One job of a batch under its own savepoint, issued on the driver: through Connection.begin_nested
        a SAVEPOINT and its RELEASE cost as much CPU as the job's statements. Whatever the job raises is
        rolled back to the savepoint and handed to its caller; the other jobs commit."""
        cursor = conn.connection.driver_connection.cursor()
        try:
            _savepoint(cursor, "SAVEPOINT job")
            try:
                job.result = job.work(conn)
            except Exception as exc:  # noqa: BLE001 - the job's own failure, re-raised in its own thread
                _savepoint(cursor, "ROLLBACK TO SAVEPOINT job")
                job.result = None
                job.error = StoreUnavailable(type(exc).__name__) if isinstance(exc, SQLAlchemyError) else exc
            _savepoint(cursor, "RELEASE SAVEPOINT job")
        finally:
            cursor.close()

    def close(self):
        """Close the write connection and the engine's pool."""
        with self._thread_lock:
            self._drop()
        self.engine.dispose()
