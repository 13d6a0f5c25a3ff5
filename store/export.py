"""Streaming reads for the audit export.

The export reads deliveries through one streaming cursor, a batch at a time, so a million rows never sit
in memory (and are sorted once by the database, not once per page). It reads the rows of one mode only:
sandbox rows are never exported as proof of a live opt-out.
"""

from store import statements as sql

BATCH = 1000  # deliveries read, and their attempts fetched, at a time


def _attempts_of(writer, ids):
    """The attempts of one batch of deliveries, in order, by delivery id."""
    attempts = {delivery_id: [] for delivery_id in ids}
    with writer.reading() as conn:
        for attempt in conn.execute(sql.EXPORTED_ATTEMPTS, {"ids": ids}).mappings():
            attempts[attempt["delivery_id"]].append(dict(attempt))
    return attempts


def deliveries(writer, mode, since=None, until=None, target=None):
    """Yield (delivery dict, [attempt dicts]) of one mode oldest first, created in [since, until), for one
    target (any case).

    One ordered query read through a server-side cursor (PostgreSQL) or SQLite's own row-by-row cursor,
    a batch at a time; each batch's attempts come from one indexed query on a second connection.
    """
    query = sql.exported({"since": since, "until": until, "address": target})
    with writer.reading() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=BATCH).execute(query, {"mode": mode})
        for batch in result.mappings().partitions(BATCH):
            attempts = _attempts_of(writer, [row["id"] for row in batch])
            for row in batch:
                yield dict(row), attempts[row["id"]]
