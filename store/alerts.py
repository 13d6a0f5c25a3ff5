"""Worker heartbeats and alert records: the reads the alert checks make and the writes that decide who sends.

An alert is sent by the process whose INSERT of its record (a unique key: kind, subject, bucket) went in;
any other process trying the same key inserts nothing and stays quiet, on SQLite and PostgreSQL alike.
"""

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from status import FAILED, PENDING, SUCCESSES
from store.breaker import OPEN
from store.models import ALERTS, ATTEMPTS, DELIVERIES, GATES, HEARTBEATS

D, A, H, R = DELIVERIES.c, ATTEMPTS.c, HEARTBEATS.c, ALERTS.c
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
CONFIGURATION = ("configuration", "verification")  # error kinds only the operator can fix
FAILED_KINDS = (*CONFIGURATION, "expired")  # the causes of failed deliveries, each alerted as one group
EXAMPLES = 5  # failed deliveries named in a message
RUNNING_SECONDS = 60  # a worker seen this recently is counted as running
KEEP_HEARTBEATS = timedelta(days=7)


class AlertStore:
    """Heartbeats and alert records on the ledger; `now()` is the store's clock."""

    def __init__(self, writer, now):
        self.writer, self.now = writer, now

    # Heartbeats

    def beat(self, worker, host, pid, started_at, last_claim_at):
        """Insert or refresh one worker's heartbeat (and forget workers gone for a week)."""
        now = self.now()
        values = {"host": host, "pid": pid, "seen_at": now, "last_claim_at": last_claim_at,
                  "stopped_at": None}
        with self.writer.writing() as conn:
            insert = INSERTS[conn.dialect.name](HEARTBEATS).values(worker_id=worker, started_at=started_at,
                                                                   **values)
            conn.execute(insert.on_conflict_do_update(index_elements=[H.worker_id], set_=values))
            conn.execute(delete(HEARTBEATS).where(H.seen_at < now - KEEP_HEARTBEATS))

    def stopped(self, worker):
        """A worker stopped cleanly: it is no longer counted as running."""
        now = self.now()
        with self.writer.writing() as conn:
            conn.execute(update(HEARTBEATS).where(H.worker_id == worker).values(stopped_at=now, seen_at=now))

    def worker_seen(self):
        """{seen_at, last_claim_at, running} over every worker, or None when no worker ever looked in."""
        recent = self.now() - timedelta(seconds=RUNNING_SECONDS)
        running = func.count().filter(H.stopped_at.is_(None), H.seen_at >= recent)
        with self.writer.reading() as conn:
            row = conn.execute(select(func.max(H.seen_at).label("seen_at"),
                                      func.max(H.last_claim_at).label("last_claim_at"),
                                      running.label("running"))).first()
        return None if row.seen_at is None else dict(row._mapping)

    # Alert records

    def take(self, records, at=None):
        """Insert these alert records ({key, kind, subject, count}) dated `at` (by default now); returns the
        keys this call inserted."""
        if not records:
            return set()
        at = at or self.now()
        rows = [{**record, "created_at": at} for record in records]
        with self.writer.writing() as conn:
            insert = INSERTS[conn.dialect.name](ALERTS).values(rows).on_conflict_do_nothing()
            return set(conn.execute(insert.returning(R.key)).scalars())

    def last(self, subject, kinds):
        """The newest alert record of these kinds about `subject`, as a dict, or None."""
        query = (select(R.key, R.kind, R.count, R.created_at).where(R.subject == subject, R.kind.in_(kinds))
                 .order_by(R.created_at.desc(), R.key.desc()).limit(1))
        with self.writer.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def episode_start(self, subject, kind, ended_by):
        """When the first `kind` record about `subject` since the last `ended_by` one was made, or None."""
        ended = (select(func.max(R.created_at)).where(R.subject == subject, R.kind == ended_by)
                 .scalar_subquery())
        query = select(func.min(R.created_at)).where(R.subject == subject, R.kind == kind,
                                                     (R.created_at > ended) | ended.is_(None))
        with self.writer.reading() as conn:
            return conn.execute(query).scalar()

    def prune(self, older_than):
        """Forget alert records older than `older_than` (a timedelta)."""
        with self.writer.writing() as conn:
            conn.execute(delete(ALERTS).where(R.created_at < self.now() - older_than))

    # What the checks read

    def failures(self, destination, kind, since, until, examples=EXAMPLES):
        """Deliveries to `destination` that failed for `kind` with completed_at in (since, until]: count,
        first, last, and the first few (id, target, code, text) as examples."""
        where = (D.status == FAILED, D.destination == destination, D.error_kind == kind,
                 D.completed_at > since, D.completed_at <= until)
        counted = select(func.count(), func.min(D.completed_at), func.max(D.completed_at)).where(*where)
        listed = (select(D.id, D.target, D.last_code, D.last_text, D.completed_at).where(*where)
                  .order_by(D.completed_at, D.id).limit(examples))
        with self.writer.reading() as conn:
            count, first, last = conn.execute(counted).first()
            rows = [dict(row._mapping) for row in conn.execute(listed)] if count else []
        return {"count": count, "first": first, "last": last, "examples": rows}

    def destination_activity(self, destination):
        """The newest configuration failure and the newest success at `destination` (attempt start times)."""
        joined = ATTEMPTS.join(DELIVERIES, A.delivery_id == D.id)
        failure = (select(func.max(A.started_at)).select_from(joined)
                   .where(D.destination == destination, A.error_kind.in_(CONFIGURATION)))
        success = (select(func.max(A.started_at)).select_from(joined)
                   .where(D.destination == destination, A.outcome.in_(SUCCESSES)))
        with self.writer.reading() as conn:
            return {"last_failure": conn.execute(failure).scalar(),
                    "last_success": conn.execute(success).scalar()}

    def gates(self):
        """{destination: {state, opened_at, reason}} for every destination with a gate row."""
        with self.writer.reading() as conn:
            return {row.destination: dict(row._mapping)
                    for row in conn.execute(select(GATES.c.destination, GATES.c.state, GATES.c.opened_at,
                                                   GATES.c.reason))}

    def oldest_pending(self):
        """(id, created_at, how many pending) of the oldest pending delivery, or None."""
        with self.writer.reading() as conn:
            oldest = conn.execute(select(D.id, D.created_at).where(D.status == PENDING)
                                  .order_by(D.created_at, D.id).limit(1)).first()
            if oldest is None:
                return None
            count = conn.execute(select(func.count()).where(D.status == PENDING)).scalar()
        return oldest.id, oldest.created_at, count

    def overdue(self, due_before):
        """(how many, since when) pending deliveries were due before `due_before`, unleased, at a destination
        whose breaker is not open (so a live worker would have claimed them)."""
        now = self.now()
        open_gates = select(GATES.c.destination).where(GATES.c.state == OPEN)
        query = select(func.count(), func.min(D.next_attempt_at)).where(
            D.status == PENDING, D.next_attempt_at <= due_before, D.destination.not_in(open_gates),
            (D.lease_until.is_(None)) | (D.lease_until < now))
        with self.writer.reading() as conn:
            return tuple(conn.execute(query).first())
