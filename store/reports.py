"""The console's reads (aggregates, search, one delivery, a delivery's request) and the operator log, on both
databases. Every read sees only the deliveries of one mode (live or sandbox: sandbox rows are never shown as
proof of a live opt-out), and returns the database's own types: datetimes stay datetimes up to the page."""

from store import statements as sql
from store.queries import one_delivery
from store.rows import LIVE


def _dicts(result):
    return [dict(row) for row in result.mappings()]


class ReportQueries:
    """Reads for the console over the deliveries of one `mode`, and the operator log's one write; every
    query through the write engine's context managers, so a store failure arrives as StoreUnavailable."""

    def __init__(self, writer, mode):
        self.writer, self.mode = writer, mode

    def counts(self, since):
        """[(destination, state, outcome, count)] of deliveries accepted since then."""
        with self.writer.reading() as conn:
            return [tuple(row) for row in conn.execute(sql.COUNTS, {"mode": self.mode, "since": since})]

    def per_day(self, since):
        """[(day as YYYY-MM-DD, state, count)] of deliveries accepted since then (UTC days)."""
        with self.writer.reading() as conn:
            return [(str(d), status, n) for d, status, n in conn.execute(sql.PER_DAY, {"mode": self.mode,
                                                                                       "since": since})]

    def failures(self):
        """Rows that need the operator or are being retried, grouped by destination, state, vendor code and
        kind: [{destination, status, code, error_kind, count, latest, text}], largest first."""
        with self.writer.reading() as conn:
            return _dicts(conn.execute(sql.FAILURE_GROUPS, {"mode": self.mode}))

    def last_attempt_by(self, sender):
        """When a `sender` (worker, replay, ...) last made an attempt on a delivery of this mode, or None."""
        with self.writer.reading() as conn:
            return conn.execute(sql.LAST_ATTEMPT_BY, {"mode": self.mode, "sender": sender}).scalar()

    def search(self, filters, cursor=None, newer=False, limit=50):
        """One page of deliveries, newest first. `cursor` is (created_at, id) of the row the page continues
        from: older rows by default, newer ones with `newer` (keyset paging, stable under inserts)."""
        query = sql.page(sql.deliveries(sql.LISTED, filters), cursor, newer, limit)
        with self.writer.reading() as conn:
            rows = _dicts(conn.execute(query, {"mode": self.mode}))
        more = len(rows) > limit
        rows = rows[:limit]
        if newer:
            rows.reverse()
        return rows, more

    def failed_ids(self, destination=None):
        """Ids of every failed delivery of one destination (of every destination when None)."""
        with self.writer.reading() as conn:
            return list(conn.execute(sql.FAILED_IDS[destination is not None],
                                     {"mode": self.mode, "destination": destination}).scalars())

    def delivery(self, delivery_id):
        """One delivery (by id, or a unique prefix of at least 6 characters) with `attempt_history`, its
        attempts in order; None when there is none of this mode."""
        with self.writer.reading() as conn:
            row = one_delivery(conn, sql.DELIVERY, delivery_id, self.mode)
            if row is None:
                return None
            attempts = _dicts(conn.execute(sql.ATTEMPTS_OF, {"id": row["id"]}))
        return {**row, "attempt_history": attempts}

    def proof(self, address):
        """Every live delivery of one address (any case; sandbox rows never, whatever this process's mode),
        oldest first: where it came from, its state, the vendor's read-back and `attempt_history` (as
        delivery() gives it). What an operator hands a subscriber or a regulator who asks."""
        with self.writer.reading() as conn:
            rows = _dicts(conn.execute(sql.PROOF, {"address": address.strip().lower(), "mode": LIVE}))
            history = {row["id"]: [] for row in rows}
            if rows:
                for attempt in conn.execute(sql.PROOF_ATTEMPTS, {"ids": list(history)}).mappings():
                    history[attempt["delivery_id"]].append({k: v for k, v in attempt.items() if k != "delivery_id"})
        return [{**row, "attempt_history": history[row["id"]]} for row in rows]

    def request(self, request_id):
        """The request a delivery came from: its stored key and answer (keyed requests only) and every
        delivery it wrote: {"stored": dict or None, "deliveries": [...]}."""
        with self.writer.reading() as conn:
            stored = conn.execute(sql.STORED_REQUEST, {"id": request_id}).mappings().first()
            rows = _dicts(conn.execute(sql.REQUEST_LISTED, {"request_id": request_id, "mode": self.mode}))
        return {"stored": None if stored is None else dict(stored), "deliveries": rows}

    def log(self, at, action, subject, result):
        """Append one entry to the operator log; returns its id."""
        with self.writer.writing() as conn:
            return conn.execute(sql.LOG_ENTRY, {"at": at, "action": action, "subject": subject,
                                                "result": result}).inserted_primary_key[0]

    def entries(self, before_id=None, limit=50):
        """One page of the operator log, newest first, and whether older entries exist."""
        with self.writer.reading() as conn:
            rows = _dicts(conn.execute(sql.LOG_PAGE[before_id is not None], {"before": before_id,
                                                                             "limit": limit + 1}))
        return rows[:limit], len(rows) > limit
