"""Streaming reads for the audit export and the metrics scrape.

The export reads deliveries through one streaming cursor, a batch at a time, so a million rows never sit
in memory (and are sorted once by the database, not once per page). It reads the rows of one mode only:
sandbox rows are never exported as proof of a live opt-out.
"""

from sqlalchemy import func, select

from status import PENDING
from store.models import ATTEMPTS, DELIVERIES

D, A = DELIVERIES.c, ATTEMPTS.c
DELIVERY_COLUMNS = (D.id, D.created_at, D.destination, D.target, D.group_name.label("group"), D.status,
                    D.outcome, D.attempts, D.last_code, D.completed_at)
ATTEMPT_COLUMNS = (A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code, A.text)
BATCH = 1000  # deliveries read, and their attempts fetched, at a time


def _filtered(query, mode, since, until, target):
    query = query.where(D.mode == mode)
    if since is not None:
        query = query.where(D.created_at >= since)
    if until is not None:
        query = query.where(D.created_at < until)
    if target:
        query = query.where(func.lower(D.target) == target.strip().lower())
    return query


def _attempts_of(writer, ids):
    """The attempts of one batch of deliveries, in order, by delivery id."""
    attempts = {delivery_id: [] for delivery_id in ids}
    with writer.reading() as conn:
        for attempt in conn.execute(select(*ATTEMPT_COLUMNS).where(A.delivery_id.in_(ids))
                                    .order_by(A.delivery_id, A.number, A.id)):
            attempts[attempt.delivery_id].append(attempt._asdict())
    return attempts


def deliveries(writer, mode, since=None, until=None, target=None):
    """Yield (delivery dict, [attempt dicts]) of one mode oldest first, created in [since, until), for one
    target.

    One ordered query read through a server-side cursor (PostgreSQL) or SQLite's own row-by-row cursor,
    a batch at a time; each batch's attempts come from one indexed query on a second connection.
    """
    query = _filtered(select(*DELIVERY_COLUMNS), mode, since, until, target).order_by(D.created_at, D.id)
    with writer.reading() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=BATCH).execute(query)
        for batch in result.partitions(BATCH):
            attempts = _attempts_of(writer, [row.id for row in batch])
            for row in batch:
                yield row._asdict(), attempts[row.id]


def backlog(writer, now):
    """(pending deliveries, seconds since the oldest of them was accepted) in one read."""
    with writer.reading() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(D.created_at))
                                     .where(D.status == PENDING)).one()
    return count, 0.0 if oldest is None else max((now() - oldest).total_seconds(), 0.0)
