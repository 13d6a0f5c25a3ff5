"""Ledger operations: accept, claim, record, and the operator's queries. Time is injectable.

The hot path (accept, record, claim) uses SQLAlchemy Core statements: the ORM's unit of work
cost more than the database itself did per webhook.
"""

import fcntl
import os
import random
import threading
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from store.models import DONE, FAILED, PENDING, Delivery, WebhookRequest

MAX_BACKOFF_SECONDS = 3600.0
DELIVERIES, REQUESTS = Delivery.__table__, WebhookRequest.__table__
D = DELIVERIES.c

# The hot statements, built once: constructing SQL expressions cost more than running them.
_DEDUP = select(D.id, D.status, D.outcome, D.last_code).where(
    D.target == bindparam("target"), D.destination == bindparam("destination"),
    D.status.in_((PENDING, DONE)), D.created_at >= bindparam("since"))
DEDUP_NO_GROUP = _DEDUP.where(D.group_name.is_(None)).order_by(D.created_at.desc()).limit(1)
DEDUP_GROUP = _DEDUP.where(D.group_name == bindparam("group")).order_by(D.created_at.desc()).limit(1)
INSERT_REQUEST, INSERT_DELIVERY = insert(REQUESTS), insert(DELIVERIES)
SET_ANSWER = update(REQUESTS).where(REQUESTS.c.id == bindparam("_id"))
# Only the holder of a live lease may store a result: a row whose lease ran out was taken over.
SET_RESULT = update(DELIVERIES).where(D.id == bindparam("_id"), D.lease_owner == bindparam("_owner"),
                                      D.status == PENDING)
STORED_ANSWER = select(REQUESTS.c.http_status, REQUESTS.c.answer).where(REQUESTS.c.idempotency_key == bindparam("key"))


def utcnow():
    """Naive UTC now: the ledger stores naive UTC on every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id():
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


@dataclass
class Planned:
    """One unsubscribe to write: item index, destination, target, group and the vendor payload."""

    index: int
    destination: str
    target: str
    group: str | None
    campaign: str | None
    options: dict
    payload: dict


@dataclass
class Placed:
    """Where a plan landed: a new pending row, or an earlier row of the dedup window."""

    plan: Planned
    id: str
    is_new: bool
    status: str = PENDING
    outcome: str | None = None
    last_code: str | None = None
    attempts: int = 0
    retry_since: datetime | None = None


class _FileLock:
    """SQLite has one writer at a time. Writing processes queue on an flock beside the database file
    and block until it is free: SQLite's own busy handler polls with sleeps of up to 100 ms, which
    cost most of the throughput when two web processes write."""

    def __init__(self, path):
        self.path, self.fd = path, None

    def __enter__(self):
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def process_write_lock(engine):
    """The cross-process write lock for a SQLite file; other databases lock rows themselves."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return nullcontext()
    return _FileLock(os.path.abspath(path) + ".writelock")


class _Job:
    """One piece of write work waiting for a shared transaction."""

    __slots__ = ("work", "result", "error", "done")

    def __init__(self, work):
        self.work, self.result, self.error, self.done = work, None, None, False


class InProgress(Exception):
    """A request with this idempotency key is still being handled."""


class Ledger:
    """The store of deliveries; every method is one short transaction."""

    def __init__(self, engine, clock=utcnow, rand=random.random, retry_base=30.0,
                 retry_max_age=48 * 3600.0, dedup_window=600.0):
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)
        self._writer = engine.execution_options(sqlite_write=True)
        self._thread_lock = threading.Lock()  # one writing thread per process at a time
        self._file_lock = process_write_lock(engine)
        self._queue, self._queue_lock = [], threading.Lock()
        self._conn = None  # the process's write connection, used under _thread_lock only
        self.clock, self.rand = clock, rand
        self.retry_base, self.retry_max_age, self.dedup_window = retry_base, retry_max_age, dedup_window

    @contextmanager
    def _transaction(self):
        """A write transaction on the process's one write connection (caller holds _thread_lock).

        Writes are serialized per process anyway, so one kept connection spares a pool checkout
        and return per transaction; a connection that failed is dropped and made anew next time.
        """
        if self._conn is None:
            self._conn = self._writer.connect()
        try:
            with self._file_lock, self._conn.begin():
                yield self._conn
        except Exception:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
            raise

    @contextmanager
    def writing(self):
        """One write transaction (a Core connection), committed on success."""
        with self._thread_lock, self._transaction() as conn:
            yield conn

    def _combined(self, work):
        """Run work(conn) in a write transaction shared with the work other threads queued meanwhile.

        Group commit by flat combining: whoever gets the lock runs everything queued in one
        transaction, so under load a commit (and on SQLite the file lock) serves many webhooks.
        A job's own expected failures must be caught inside `work` (under a savepoint); anything
        else fails the whole batch, and every job in it raises.
        """
        job = _Job(work)
        with self._queue_lock:
            self._queue.append(job)
        with self._thread_lock:
            if not job.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    with self._transaction() as conn:
                        for queued in batch:
                            queued.result = queued.work(conn)
                except Exception as exc:
                    for queued in batch:
                        queued.error = exc
                finally:
                    for queued in batch:
                        queued.done = True
        if job.error is not None:
            raise job.error
        return job.result

    def close(self):
        """Close the write connection and the engine's pool."""
        with self._thread_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self.engine.dispose()

    def stored_answer(self, key):
        """(http status, answer) stored for an idempotency key; None if unseen; InProgress if pending."""
        with self.engine.connect() as conn:
            row = conn.execute(STORED_ANSWER, {"key": key}).first()
        if row is None:
            return None
        if row.answer is None:
            raise InProgress(key)
        return row.http_status, row.answer

    def _duplicate(self, conn, plan, now):
        if self.dedup_window <= 0:
            return None
        params = {"target": plan.target, "destination": plan.destination, "group": plan.group,
                  "since": now - timedelta(seconds=self.dedup_window)}
        return conn.execute(DEDUP_NO_GROUP if plan.group is None else DEDUP_GROUP, params).first()

    def accept(self, plans, key=None, lease_owner=None, lease_seconds=0.0):
        """Write a request and its delivery rows in one transaction, before anything is sent.

        Returns (request id, [Placed]); a plan within the dedup window gets the earlier delivery and
        no new row. Raises IntegrityError when the idempotency key was taken meanwhile.
        """
        now = self.clock()
        request_id = new_id()
        lease_until = now + timedelta(seconds=lease_seconds) if lease_owner else None

        def work(conn):
            if key:  # the request row exists to replay its answer to a repeat of the same key
                try:
                    with conn.begin_nested():
                        conn.execute(INSERT_REQUEST, {"id": request_id, "idempotency_key": key, "created_at": now})
                except IntegrityError as exc:
                    return exc
            placed, rows = [], []
            for plan in plans:
                earlier = self._duplicate(conn, plan, now)
                if earlier is not None:
                    placed.append(Placed(plan, earlier.id, False, earlier.status, earlier.outcome,
                                         earlier.last_code))
                    continue
                row_id = new_id()
                rows.append({
                    "id": row_id, "request_id": request_id, "item_index": plan.index, "idempotency_key": key,
                    "destination": plan.destination, "target": plan.target, "group_name": plan.group,
                    "campaign": plan.campaign, "options": plan.options, "payload": plan.payload,
                    "status": PENDING, "attempts": 0, "created_at": now, "updated_at": now,
                    "next_attempt_at": now, "retry_since": now, "lease_owner": lease_owner,
                    "lease_until": lease_until})
                placed.append(Placed(plan, row_id, True, attempts=0, retry_since=now))
            if rows:
                conn.execute(INSERT_DELIVERY, rows)
            return placed

        placed = self._combined(work)
        if isinstance(placed, IntegrityError):
            raise placed
        return request_id, placed

    def backoff(self, attempts):
        """Seconds before the next try: exponential from retry_base, capped, with full jitter."""
        delay = min(self.retry_base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
        return delay / 2 + self.rand() * delay / 2

    def _changes(self, row, result, now):
        """The column values that store one Result on a row (id, attempts, retry_since known)."""
        attempts = row.attempts + 1
        change = {"_id": row.id, "attempts": attempts, "updated_at": now, "last_code": result.code,
                  "last_text": result.message, "error_kind": result.error.kind if result.error else None,
                  "lease_owner": None, "lease_until": None, "status": FAILED, "outcome": result.status,
                  "completed_at": now, "next_attempt_at": now}
        if result.ok:
            change["status"] = DONE
        elif result.transient and now - row.retry_since < timedelta(seconds=self.retry_max_age):
            change.update(status=PENDING, outcome=None, completed_at=None,
                          next_attempt_at=now + timedelta(seconds=self.backoff(attempts)))
        elif result.transient:
            change.update(error_kind="expired", last_text=f"gave up after {attempts} attempts: {result.message}")
        return change

    def record(self, outcomes, owner, answer=None):
        """Store results [(row, Result)] on rows this owner still holds, and optionally the answer
        (request id, http status, body), in one transaction; returns the changes that applied.

        `row` is what accept() or claim() returned: its id, attempts and retry_since.
        """
        now = self.clock()
        changes = [self._changes(row, result, now) for row, result in outcomes]

        def work(conn):
            if answer:
                request_id, http_status, body = answer
                conn.execute(SET_ANSWER, {"_id": request_id, "http_status": http_status, "answer": body})
            # One guarded UPDATE each; rowcount says whether the lease still held.
            return [c for c in changes if conn.execute(SET_RESULT, {**c, "_owner": owner}).rowcount]

        return self._combined(work)

    def claim(self, owner, limit, lease_seconds):
        """Lease up to `limit` due rows to `owner`; SKIP LOCKED keeps workers apart on PostgreSQL."""
        now = self.clock()
        due = (select(D.id)
               .where(D.status == PENDING, D.next_attempt_at <= now,
                      or_(D.lease_until.is_(None), D.lease_until < now))
               .order_by(D.next_attempt_at).limit(limit)
               .with_for_update(skip_locked=True))
        with self.writing() as conn:
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            conn.execute(update(DELIVERIES).where(D.id.in_(ids))
                         .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds)))
            return list(conn.execute(select(D.id, D.destination, D.payload, D.attempts, D.retry_since)
                                     .where(D.id.in_(ids), D.lease_owner == owner)))

    def release(self, owner):
        """Give back every lease this owner holds (a worker stopping cleanly)."""
        with self.writing() as conn:
            conn.execute(update(DELIVERIES).where(D.lease_owner == owner, D.status == PENDING)
                         .values(lease_owner=None, lease_until=None))

    def get(self, delivery_id):
        """One delivery by id (or unique id prefix), or None."""
        with self.session() as db:
            row = db.get(Delivery, delivery_id)
            if row is None and len(delivery_id) >= 6:
                rows = list(db.scalars(select(Delivery).where(Delivery.id.startswith(delivery_id)).limit(2)))
                row = rows[0] if len(rows) == 1 else None
            return row

    def find(self, status=None, target=None, limit=100):
        """Deliveries, newest first, filtered by status and/or target address."""
        query = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
        if status:
            query = query.where(Delivery.status == status)
        if target:
            query = query.where(func.lower(Delivery.target) == target.strip().lower())
        with self.session() as db:
            return list(db.scalars(query))

    def requeue(self, ids=None, failed=False):
        """Make deliveries due now again (replay), with a fresh retry window; returns how many."""
        now = self.clock()
        query = update(DELIVERIES).values(status=PENDING, outcome=None, next_attempt_at=now, retry_since=now,
                                          lease_owner=None, lease_until=None, completed_at=None, updated_at=now)
        query = query.where(D.status == FAILED) if failed else query.where(D.id.in_(ids or []))
        with self.writing() as conn:
            return conn.execute(query).rowcount

    def purge(self, older_than_seconds):
        """Delete finished deliveries and answered requests older than the cut-off; pending stay."""
        cutoff = self.clock() - timedelta(seconds=older_than_seconds)
        with self.writing() as conn:
            gone = conn.execute(delete(DELIVERIES).where(D.status != PENDING, D.created_at < cutoff)).rowcount
            live = select(D.request_id).distinct()
            conn.execute(delete(REQUESTS).where(REQUESTS.c.created_at < cutoff, REQUESTS.c.id.not_in(live)))
        return gone

    def oldest_pending_age(self):
        """Seconds since the oldest pending delivery was accepted (0 when none)."""
        with self.engine.connect() as conn:
            oldest = conn.execute(select(func.min(D.created_at)).where(D.status == PENDING)).scalar()
        return 0.0 if oldest is None else max((self.clock() - oldest).total_seconds(), 0.0)
