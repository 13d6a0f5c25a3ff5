"""The operator's queries: find and show deliveries with their attempts, a request's rows, purge. Rows come
back as the database's typed values (datetimes stay datetimes); the CLI and /readyz make them JSON."""

from datetime import timedelta

from store import statements as sql
from store.rows import read_delivery

PURGE_SLICE = 1000  # rows per purge transaction


def one_delivery(conn, query, delivery_id, mode):
    """The delivery of this mode with this id, or with this unique id prefix of at least 6 characters."""
    row = conn.execute(query, {"id": delivery_id, "mode": mode}).mappings().first()
    if row is None and len(delivery_id) >= 6:
        rows = conn.execute(sql.DELIVERY_BY_PREFIX, {"prefix": sql.prefix_pattern(delivery_id),
                                                     "mode": mode}).mappings().all()
        row = rows[0] if len(rows) == 1 else None
    return row


class Queries:
    """Reads (and the purge) on the ledger; `now()` is the store's clock. The operator's reads show only
    rows of this process's `mode` (live or sandbox)."""

    def __init__(self, writer, now, mode="live"):
        self.writer, self.now, self.mode = writer, now, mode

    def sent_since(self, destination, address, since):
        """True when this mode's ledger accepted an opt-out of `address` (any case) to `destination` at or after
        `since`: the relay's own call, which the vendor may report back as an event of its own."""
        params = {"address": address.strip().lower(), "destination": destination, "since": since,
                  "mode": self.mode}
        with self.writer.reading() as conn:
            return conn.execute(sql.SENT_SINCE, params).first() is not None

    def get(self, delivery_id):
        """One delivery as a dict (by id or a unique id prefix of at least 6 characters), or None."""
        with self.writer.reading() as conn:
            row = one_delivery(conn, sql.DELIVERY, delivery_id, self.mode)
        return None if row is None else dict(row)

    def attempts(self, delivery_id):
        """Every attempt of one delivery, in order."""
        with self.writer.reading() as conn:
            return [dict(row) for row in conn.execute(sql.ATTEMPTS_OF, {"id": delivery_id}).mappings()]

    def find(self, status=None, target=None, limit=100):
        """Deliveries as dicts, newest first, filtered by state and/or target address (any case)."""
        query = (sql.deliveries(sql.EVERY_COLUMN, {"status": status, "address": target})
                 .order_by(sql.D.created_at.desc()).limit(limit))
        with self.writer.reading() as conn:
            return [dict(row) for row in conn.execute(query, {"mode": self.mode}).mappings()]

    def of_request(self, request_id):
        """The Deliveries one request wrote, in item order (to answer a repeat from their state)."""
        with self.writer.reading() as conn:
            return [read_delivery(row) for row in conn.execute(sql.OF_REQUEST, {"request_id": request_id,
                                                                                 "mode": self.mode}).mappings()]

    def backlog(self):
        """(pending deliveries of this mode, when the oldest of them was accepted or None): one read."""
        with self.writer.reading() as conn:
            count, oldest = conn.execute(sql.BACKLOG, {"mode": self.mode}).one()
        return count, oldest

    def other_mode_pending(self):
        """How many pending rows of the other mode are in the ledger (no process of this mode takes them)."""
        with self.writer.reading() as conn:
            return conn.execute(sql.OTHER_MODE_PENDING, {"mode": self.mode}).scalar()

    def purge(self, older_than_seconds):
        """Delete finished deliveries (their attempts too) and answered requests older than the cut-off.

        In slices of PURGE_SLICE rows found through the created_at index, one transaction each: the cost
        follows what is deleted, not the ledger's size, and webhooks get the write lock between slices. Each
        DELETE checks its condition again: a row replayed since the slice was read (pending again) stays, and
        its attempts with it (they go with their delivery: ON DELETE CASCADE)."""
        cutoff = self.now() - timedelta(seconds=older_than_seconds)
        gone = self._sliced(*sql.PURGE["deliveries"], cutoff)
        self._sliced(*sql.PURGE["requests"], cutoff)
        return gone

    def _sliced(self, finding, deleting, cutoff):
        """Delete what `finding` selects, PURGE_SLICE rows per transaction; how many went."""
        gone = 0
        while True:
            with self.writer.writing() as conn:
                ids = list(conn.execute(finding, {"cutoff": cutoff, "slice": PURGE_SLICE}).scalars())
                if ids:
                    gone += conn.execute(deleting, {"cutoff": cutoff, "ids": ids}).rowcount
            if len(ids) < PURGE_SLICE:
                return gone
