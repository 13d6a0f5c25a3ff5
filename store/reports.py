"""The console's reads (aggregates, search, one delivery, a delivery's request) and the operator log, on both
databases. Every read sees only the deliveries of one mode (live or sandbox: sandbox rows are never shown as
proof of a live opt-out), and returns the database's own types: datetimes stay datetimes up to the page."""

from sqlalchemy import and_, func, insert, or_, select

from status import FAILED, PENDING
from store.models import ATTEMPTS, DELIVERIES, OPERATOR_LOG, REQUESTS

D, A, L, R = DELIVERIES.c, ATTEMPTS.c, OPERATOR_LOG.c, REQUESTS.c
LISTED = (D.id, D.created_at, D.destination, D.target, D.group_name, D.status, D.outcome, D.attempts,
          D.last_code, D.completed_at)
EVERY_FIELD = tuple(DELIVERIES.c)
ATTEMPT_FIELDS = (A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code, A.text, A.error_kind)
LIKE_ESCAPE = "\\"


def typed(row):
    """A Core row as a dict of the database's values (datetimes stay datetimes)."""
    return dict(row._mapping)


def _prefix_pattern(text):
    """A LIKE pattern matching `text` at the start, its own % and _ taken literally."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _filtered(query, filters):
    """Apply a search's filters: address (exact or prefix, any case), state, destination, [since, until)."""
    if filters.get("address"):
        address = func.lower(D.target)
        text = filters["address"].strip().lower()
        query = query.where(address.like(_prefix_pattern(text), escape=LIKE_ESCAPE)
                            if filters.get("prefix") else address == text)
    for name, column in (("status", D.status), ("destination", D.destination)):
        if filters.get(name):
            query = query.where(column == filters[name])
    if filters.get("since"):
        query = query.where(D.created_at >= filters["since"])
    if filters.get("until"):
        query = query.where(D.created_at < filters["until"])
    return query


class ReportQueries:
    """Reads for the console over the deliveries of one `mode`, and the operator log's one write; every
    query through the write engine's context managers, so a store failure arrives as StoreUnavailable."""

    def __init__(self, writer, mode):
        self.writer, self.mode = writer, mode
        self.own = D.mode == mode  # the condition every read of deliveries carries

    def counts(self, since):
        """[(destination, state, outcome, count)] of deliveries accepted since then."""
        query = (select(D.destination, D.status, D.outcome, func.count())
                 .where(self.own, D.created_at >= since).group_by(D.destination, D.status, D.outcome))
        with self.writer.reading() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def per_day(self, since):
        """[(day as YYYY-MM-DD, state, count)] of deliveries accepted since then (UTC days)."""
        day = func.date(D.created_at)  # SQLite: a text day; PostgreSQL: a date
        query = (select(day, D.status, func.count()).where(self.own, D.created_at >= since)
                 .group_by(day, D.status))
        with self.writer.reading() as conn:
            return [(str(d), status, n) for d, status, n in conn.execute(query)]

    def backlog(self):
        """(pending count, when the oldest pending delivery was accepted or None)."""
        query = select(func.count(), func.min(D.created_at)).where(self.own, D.status == PENDING)
        with self.writer.reading() as conn:
            count, oldest = conn.execute(query).one()
        return count, oldest

    def failures(self):
        """Rows that need the operator or are being retried, grouped by destination, state, vendor code and
        kind: [{destination, status, code, error_kind, count, latest, text}], largest first."""
        failing = or_(D.status == FAILED, and_(D.status == PENDING, D.attempts > 0))
        query = (select(D.destination, D.status, D.last_code.label("code"), D.error_kind,
                        func.count().label("count"), func.max(D.updated_at).label("latest"),
                        func.max(D.last_text).label("text"))
                 .where(self.own, failing).group_by(D.destination, D.status, D.last_code, D.error_kind)
                 .order_by(func.count().desc(), D.destination))
        with self.writer.reading() as conn:
            return [typed(row) for row in conn.execute(query)]

    def last_attempt_by(self, sender):
        """When a `sender` (worker, replay, ...) last made an attempt on a delivery of this mode, or None."""
        query = (select(func.max(A.started_at)).select_from(ATTEMPTS.join(DELIVERIES, A.delivery_id == D.id))
                 .where(self.own, A.sender == sender))
        with self.writer.reading() as conn:
            return conn.execute(query).scalar()

    def search(self, filters, cursor=None, newer=False, limit=50):
        """One page of deliveries, newest first. `cursor` is (created_at, id) of the row the page continues
        from: older rows by default, newer ones with `newer` (keyset paging, stable under inserts)."""
        query = _filtered(select(*LISTED).where(self.own), filters)
        if cursor is not None:
            at, row_id = cursor
            if newer:
                query = query.where(or_(D.created_at > at, and_(D.created_at == at, D.id > row_id)))
            else:
                query = query.where(or_(D.created_at < at, and_(D.created_at == at, D.id < row_id)))
        order = (D.created_at.asc(), D.id.asc()) if newer else (D.created_at.desc(), D.id.desc())
        with self.writer.reading() as conn:
            rows = list(conn.execute(query.order_by(*order).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        if newer:
            rows.reverse()
        return [typed(row) for row in rows], more

    def failed_ids(self, destination=None):
        """Ids of every failed delivery of one destination (of every destination when None)."""
        query = select(D.id).where(self.own, D.status == FAILED)
        if destination is not None:
            query = query.where(D.destination == destination)
        with self.writer.reading() as conn:
            return list(conn.execute(query.order_by(D.id)).scalars())

    def delivery(self, delivery_id):
        """One delivery (by id, or a unique prefix of at least 6 characters) with `attempt_history`, its
        attempts in order; None when there is none of this mode."""
        with self.writer.reading() as conn:
            row = conn.execute(select(*EVERY_FIELD).where(self.own, D.id == delivery_id)).first()
            if row is None and len(delivery_id) >= 6:
                rows = conn.execute(select(*EVERY_FIELD).where(self.own, D.id.startswith(delivery_id,
                                                                                         autoescape=True))
                                    .limit(2)).all()
                row = rows[0] if len(rows) == 1 else None
            if row is None:
                return None
            attempts = conn.execute(select(*ATTEMPT_FIELDS).where(A.delivery_id == row.id)
                                    .order_by(A.number, A.id)).all()
        return {**typed(row), "attempt_history": [typed(a) for a in attempts]}

    def request(self, request_id):
        """The request a delivery came from: its stored key and answer (keyed requests only) and every
        delivery it wrote: {"stored": dict or None, "deliveries": [...]}."""
        with self.writer.reading() as conn:
            stored = conn.execute(select(R.id, R.idempotency_key, R.created_at, R.answer)
                                  .where(R.id == request_id)).first()
            rows = conn.execute(select(*LISTED).where(self.own, D.request_id == request_id)
                                .order_by(D.item_index, D.destination)).all()
        return {"stored": None if stored is None else typed(stored), "deliveries": [typed(r) for r in rows]}

    def log(self, at, action, subject, result):
        """Append one entry to the operator log; returns its id."""
        with self.writer.writing() as conn:
            return conn.execute(insert(OPERATOR_LOG).values(at=at, action=action, subject=subject,
                                                            result=result)).inserted_primary_key[0]

    def entries(self, before_id=None, limit=50):
        """One page of the operator log, newest first, and whether older entries exist."""
        query = select(L.id, L.at, L.action, L.subject, L.result).order_by(L.id.desc()).limit(limit + 1)
        if before_id is not None:
            query = query.where(L.id < before_id)
        with self.writer.reading() as conn:
            rows = [typed(row) for row in conn.execute(query)]
        return rows[:limit], len(rows) > limit
