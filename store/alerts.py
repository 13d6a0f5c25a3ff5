"""Worker heartbeats and alert records: the reads the alert checks make and the writes that decide who sends.

An alert is sent by the process whose INSERT of its record (a unique key: kind, subject, bucket) went in;
any other process trying the same key inserts nothing and stays quiet, on SQLite and PostgreSQL alike.
"""

from datetime import timedelta

from store import statements as sql

CONFIGURATION = ("configuration", "verification")  # error kinds only the operator can fix
# The causes of failed deliveries, each alerted as one group; still_subscribed: the read-back (issue 20).
FAILED_KINDS = (*CONFIGURATION, "expired", "still_subscribed")
EXAMPLES = 5  # failed deliveries named in a message
RUNNING_SECONDS = 60  # a worker seen this recently is counted as running
KEEP_HEARTBEATS = timedelta(days=7)


class AlertStore:
    """Heartbeats and alert records on the ledger; `now()` is the store's clock, `backlog()` the store's."""

    def __init__(self, writer, now, backlog, mode):
        self.writer, self.now, self.backlog, self.mode = writer, now, backlog, mode

    # Heartbeats

    def beat(self, worker, host, pid, started_at, last_claim_at):
        """Insert or refresh one worker's heartbeat (and forget workers gone for a week)."""
        now = self.now()
        with self.writer.writing() as conn:
            conn.execute(sql.BEAT[conn.dialect.name], {"worker_id": worker, "started_at": started_at, "host": host,
                                                       "pid": pid, "seen_at": now, "last_claim_at": last_claim_at,
                                                       "stopped_at": None, "mode": self.mode})
            conn.execute(sql.FORGET_WORKERS, {"before": now - KEEP_HEARTBEATS})

    def stopped(self, worker):
        """A worker stopped cleanly: it is no longer counted as running."""
        with self.writer.writing() as conn:
            conn.execute(sql.STOPPED, {"worker": worker, "now": self.now()})

    def worker_seen(self):
        """{seen_at, last_claim_at, running} over every worker of this mode (a sandbox worker on this ledger
        delivers none of the live rows), or None when no worker of this mode ever looked in."""
        recent = self.now() - timedelta(seconds=RUNNING_SECONDS)
        with self.writer.reading() as conn:
            row = conn.execute(sql.WORKER_SEEN, {"recent": recent, "mode": self.mode}).mappings().first()
        return None if row["seen_at"] is None else dict(row)

    # Alert records

    def take(self, records, at=None):
        """Insert these alert records ({key, kind, subject, count}) dated `at` (by default now); returns the
        keys this call inserted."""
        if not records:
            return set()
        at = at or self.now()
        with self.writer.writing() as conn:
            insert = sql.TAKE_ALERT[conn.dialect.name]
            return {key for record in records
                    for key in conn.execute(insert, {**record, "created_at": at}).scalars()}

    def last(self, subject, kinds):
        """The newest alert record of these kinds about `subject`, as a dict, or None."""
        with self.writer.reading() as conn:
            row = conn.execute(sql.LAST_ALERT, {"subject": subject, "kinds": list(kinds)}).mappings().first()
        return None if row is None else dict(row)

    def episode_start(self, subject, kind, ended_by):
        """When the first `kind` record about `subject` since the last `ended_by` one was made, or None."""
        with self.writer.reading() as conn:
            return conn.execute(sql.EPISODE_START, {"subject": subject, "kind": kind,
                                                    "ended_by": ended_by}).scalar()

    def prune(self, older_than):
        """Forget alert records older than `older_than` (a timedelta)."""
        with self.writer.writing() as conn:
            conn.execute(sql.PRUNE_ALERTS, {"before": self.now() - older_than})

    # What the checks read

    def failures(self, destination, kind, since, until, examples=EXAMPLES):
        """Deliveries to `destination` that failed for `kind` with completed_at in (since, until]: count,
        first, last, and the first few (id, target, code, text) as examples."""
        params = {"destination": destination, "kind": kind, "since": since, "until": until, "examples": examples,
                  "mode": self.mode}
        with self.writer.reading() as conn:
            count, first, last = conn.execute(sql.FAILED_FOR, params).first()
            rows = [dict(row) for row in conn.execute(sql.FAILED_EXAMPLES, params).mappings()] if count else []
        return {"count": count, "first": first, "last": last, "examples": rows}

    def destination_activity(self, destination):
        """The newest configuration failure and the newest success at `destination` (attempt start times)."""
        with self.writer.reading() as conn:
            return {"last_failure": conn.execute(sql.LAST_FAILURE_OF_KINDS, {
                        "destination": destination, "kinds": list(CONFIGURATION)}).scalar(),
                    "last_success": conn.execute(sql.LAST_SUCCESS, {"destination": destination}).scalar()}

    def gates(self):
        """{destination: {state, opened_at, reason}} for every destination with a gate row."""
        with self.writer.reading() as conn:
            return {row["destination"]: dict(row) for row in conn.execute(sql.GATE_STATES).mappings()}

    def oldest_pending(self):
        """(when the oldest pending delivery of this mode was accepted, how many are pending), or None."""
        count, oldest = self.backlog()
        return None if oldest is None else (oldest, count)

    def overdue(self, due_before):
        """(how many, since when) pending deliveries were due before `due_before`, unleased, at a destination
        whose breaker is not open (so a live worker would have claimed them)."""
        with self.writer.reading() as conn:
            return tuple(conn.execute(sql.OVERDUE, {"due_before": due_before, "now": self.now(),
                                                    "mode": self.mode}).first())
