"""The operator's queries: find and show deliveries with their attempts, the backlog's age, purge."""

from datetime import timedelta

from sqlalchemy import delete, exists, func, select

from status import PENDING
from store.models import ATTEMPTS, DELIVERIES, REQUESTS, row_dict

D, A = DELIVERIES.c, ATTEMPTS.c
COLUMNS = [c for c in DELIVERIES.c]
PURGE_SLICE = 1000  # rows per purge transaction


class Queries:
    """Reads (and the purge) on the ledger; `now()` is the store's clock. The operator's reads show only
    rows of this process's `mode` (live or sandbox)."""

    def __init__(self, writer, now, mode="live"):
        self.writer, self.now, self.mode = writer, now, mode
        self.own = D.mode == mode

    def get(self, delivery_id):
        """One delivery as a dict (by id or a unique id prefix of at least 6 characters), or None."""
        with self.writer.reading() as conn:
            row = conn.execute(select(*COLUMNS).where(D.id == delivery_id, self.own)).first()
            if row is None and len(delivery_id) >= 6:
                rows = conn.execute(select(*COLUMNS).where(D.id.startswith(delivery_id, autoescape=True),
                                                           self.own).limit(2)).all()
                row = rows[0] if len(rows) == 1 else None
        return None if row is None else row_dict(row)

    def attempts(self, delivery_id):
        """Every attempt of one delivery, in order."""
        with self.writer.reading() as conn:
            rows = conn.execute(select(A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code,
                                       A.text, A.error_kind)
                                .where(A.delivery_id == delivery_id).order_by(A.number, A.id)).all()
        return [row_dict(row) for row in rows]

    def find(self, status=None, target=None, limit=100):
        """Deliveries as dicts, newest first, filtered by state and/or target address (any case)."""
        query = select(*COLUMNS).where(self.own).order_by(D.created_at.desc()).limit(limit)
        if status:
            query = query.where(D.status == status)
        if target:
            query = query.where(func.lower(D.target) == target.strip().lower())
        with self.writer.reading() as conn:
            return [row_dict(row) for row in conn.execute(query)]

    def of_request(self, request_id):
        """The deliveries one request wrote, in item order (to answer a repeat from their state)."""
        with self.writer.reading() as conn:
            rows = conn.execute(select(*COLUMNS).where(D.request_id == request_id, self.own)
                                .order_by(D.item_index, D.destination)).all()
        return [row_dict(row) for row in rows]

    def oldest_pending_age(self):
        """Seconds since the oldest pending delivery was accepted (0 when none)."""
        with self.writer.reading() as conn:
            oldest = conn.execute(select(func.min(D.created_at))
                                  .where(D.status == PENDING, self.own)).scalar()
        return 0.0 if oldest is None else max((self.now() - oldest).total_seconds(), 0.0)

    def other_mode_pending(self):
        """How many pending rows of the other mode are in the ledger (no process of this mode takes them)."""
        with self.writer.reading() as conn:
            return conn.execute(select(func.count()).select_from(DELIVERIES)
                                .where(D.status == PENDING, D.mode != self.mode)).scalar()

    def purge(self, older_than_seconds):
        """Delete finished deliveries (their attempts too) and answered requests older than the cut-off.

        In slices of PURGE_SLICE rows found through the created_at index, one transaction each: the cost
        follows what is deleted, not the ledger's size, and webhooks get the write lock between slices. Each
        DELETE checks its condition again: a row replayed since the slice was read (pending again) stays, and
        its attempts with it (they go with their delivery: ON DELETE CASCADE)."""
        cutoff = self.now() - timedelta(seconds=older_than_seconds)
        finished = (D.created_at < cutoff, D.status != PENDING)
        unused = (REQUESTS.c.created_at < cutoff, ~exists().where(D.request_id == REQUESTS.c.id))
        gone = self._sliced(lambda ids: delete(DELIVERIES).where(D.id.in_(ids), *finished),
                            select(D.id).where(*finished))
        self._sliced(lambda ids: delete(REQUESTS).where(REQUESTS.c.id.in_(ids), *unused),
                     select(REQUESTS.c.id).where(*unused))
        return gone

    def _sliced(self, deleting, finding):
        """Delete what `finding` selects, PURGE_SLICE rows per transaction; how many went."""
        gone = 0
        while True:
            with self.writer.writing() as conn:
                ids = list(conn.execute(finding.limit(PURGE_SLICE)).scalars())
                if ids:
                    gone += conn.execute(deleting(ids)).rowcount
            if len(ids) < PURGE_SLICE:
                return gone
