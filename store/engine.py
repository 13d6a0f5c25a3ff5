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
from store import hot
from store.cooperative import lock_exclusive
from store.statements import ADVISORY_LOCKS


def lock_key(*parts):
    """A stable signed 64-bit key for an advisory lock (Python's hash() differs per process)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Rerun(Exception):
    """A job of a batch failed: the batch's transaction rolls back and its jobs run again one by one."""


class _Job:
    """One piece of write work waiting for a shared transaction."""

    __slots__ = ("work", "locks", "locks_in_work", "result", "error", "committed", "done")

    def __init__(self, work, locks, locks_in_work):
        self.work, self.locks, self.locks_in_work = work, locks, locks_in_work
        self.result = self.error = None
        self.committed = self.done = False


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


class WriteEngine:
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

    def transaction(self, work, locks=(), locks_in_work=False):
        """work(conn) in a write transaction, committed before this returns; its return value.

        On PostgreSQL the advisory `locks` (the dedup decision per address and destination) are held to the
        commit; with `locks_in_work` the work's first statement takes them itself, one round trip fewer.

        Group commit by flat combining: a job that finds the write connection busy queues, and whoever holds
        it next runs every queued job in one transaction. Under load one BEGIN, one commit (its flush) and on
        SQLite one pass of the cross-process file lock serve many requests: in the contest (bench/ab.py) a
        transaction per job cost about 1.45x the CPU per webhook on SQLite, 1.4x on PostgreSQL. A batch takes
        all its jobs' advisory locks first, in one sorted order, so two batches never deadlock. Optimistic:
        no savepoint per job (two more round trips each on PostgreSQL); if one job fails, the batch rolls
        back and every job runs again alone, so a value the database refuses fails that request alone.
        """
        job = _Job(work, tuple(locks), locks_in_work)
        with self._queue_lock:
            self._queue.append(job)
        with self._thread_lock:
            if not job.done:
                self._run_queued(job)
        if job.error is not None:
            raise job.error
        return job.result

    @property
    def queued(self):
        """How many jobs wait for the next transaction."""
        with self._queue_lock:
            return len(self._queue)

    def _run_queued(self, own):
        """Run what is queued in one transaction (caller holds _thread_lock). The queue is taken once the
        transaction has begun: those who came while it waited for the file lock ride along."""
        batch = []
        try:
            try:
                with self._transaction() as conn:
                    with self._queue_lock:
                        batch, self._queue = self._queue, []
                    if len(batch) == 1:
                        self._run(conn, batch[0])
                    else:
                        self._lock(conn, [key for job in batch for key in job.locks])
                        for job in batch:
                            self._run_in_batch(conn, job)
                for job in batch:
                    job.committed = True
            except _Rerun:  # rolled back: each job again, in its own transaction
                for job in batch:
                    self._run_alone(job)
        except StoreUnavailable as exc:
            for job in batch or self._take_queue():
                job.error = job.error or exc
        except BaseException as exc:  # a timeout or exit: the transaction is gone for all not yet done
            for job in batch:
                if not job.committed:
                    job.error = job.error or StoreUnavailable(type(exc).__name__)
            if not batch:  # interrupted before it took the queue: its own job goes, the others wait on
                self._withdraw(own)
            raise
        finally:
            for job in batch:
                job.done = True

    def _run(self, conn, job):
        self._lock(conn, () if job.locks_in_work else job.locks)
        job.result = job.work(conn)

    @staticmethod
    def _run_in_batch(conn, job):
        try:
            job.result = job.work(conn)
        except Exception as exc:  # noqa: BLE001 - whatever it was, the batch is rerun job by job
            raise _Rerun from exc

    def _run_alone(self, job):
        """One job of a failed batch in a transaction of its own; what it raises is handed to its caller."""
        job.result = None
        try:
            with self._transaction() as conn:
                self._run(conn, job)
            job.committed = True
        except Exception as exc:  # noqa: BLE001 - the job's own failure, re-raised in its own thread
            job.error = exc

    def _withdraw(self, job):
        with self._queue_lock:
            if job in self._queue:
                self._queue.remove(job)

    def _take_queue(self):
        """Every queued job (the transaction failed before it took them: each is told so)."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        for job in batch:
            job.done = True
        return batch

    def _lock(self, conn, locks):
        if locks and self.postgres:
            hot.rows(conn, ADVISORY_LOCKS, {"keys": sorted(set(locks))})

    def alone(self, statement, params):
        """One statement, atomic by itself, committed before this returns; its rows as a list of dicts.

        On PostgreSQL it runs in autocommit on the write connection: the statement is its own transaction,
        so the BEGIN and COMMIT round trips go (two of the three a one-statement transaction costs) while
        the commit still waits for its WAL flush (synchronous_commit as configured, never off). The
        connection goes back to the engine's isolation level before the next transaction."""
        if not self.postgres:
            return self.transaction(lambda conn: hot.rows(conn, statement, params))
        with self._thread_lock:
            try:
                with translated(), self._file_lock:
                    conn = self._open().execution_options(isolation_level="AUTOCOMMIT")
                    try:
                        with conn.begin():
                            return hot.rows(conn, statement, params)
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
