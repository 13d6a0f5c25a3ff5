"""What the operator console asks of the service beyond Operations: overview aggregates, search, one
delivery and its request, bulk replay of a destination, the operator log. It sees only the rows of the
process's own mode (live or sandbox), with the store's own types (datetimes, not strings)."""

from collections import defaultdict
from datetime import timedelta

from status import DONE, FAILED, PENDING

COMPLIANCE_SECONDS = 48 * 3600  # Gmail and Yahoo: opt-outs honoured within 48 hours
CHART_DAYS = 30
REQUEUE_CHUNK = 500  # ids per statement: well under SQLite's bound-parameter limit


def outcome_of(status, outcome):
    """The one word a count is shown under: pending, or the outcome of a finished row."""
    return PENDING if status == PENDING else (outcome or status)


def outcome_table(counts):
    """{destination: {outcome: count, "total": n}} from [(destination, state, outcome, count)]."""
    table = defaultdict(lambda: defaultdict(int))
    for destination, status, outcome, count in counts:
        row = table[destination]
        row[outcome_of(status, outcome)] += count
        row["total"] += count
    return {name: dict(row) for name, row in sorted(table.items())}


def day_series(per_day, today, days=CHART_DAYS):
    """[(day, {done, failed, pending})] for each of the `days` days up to `today`, zeros included."""
    counts = defaultdict(lambda: {DONE: 0, FAILED: 0, PENDING: 0})
    for day, status, count in per_day:
        counts[day][status] += count
    first = today - timedelta(days=days - 1)
    return [((first + timedelta(days=n)).isoformat(), dict(counts[(first + timedelta(days=n)).isoformat()]))
            for n in range(days)]


class Reports:
    """The console's view of one service; `operations` gives show, replay and the online check."""

    def __init__(self, service):
        self.service, self.store = service, service.store
        self.queries = self.store.reports

    def overview(self):
        """Counts for 24 hours and 30 days, the per-day series, the backlog and the failures."""
        now = self.store.now()
        pending, oldest = self.store.backlog()
        return {
            "now": now,
            "day": outcome_table(self.queries.counts(now - timedelta(days=1))),
            "month": outcome_table(self.queries.counts(now - timedelta(days=CHART_DAYS))),
            "series": day_series(self.queries.per_day(now.replace(hour=0, minute=0, second=0, microsecond=0)
                                                      - timedelta(days=CHART_DAYS - 1)), now.date()),
            "pending": pending,
            "oldest_age": 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0),
            "compliance_seconds": COMPLIANCE_SECONDS,
            "alert_seconds": self.service.settings.pending_alert_seconds,
            "failures": self.queries.failures(),
            "last_worker_attempt": self.queries.last_attempt_by("worker"),
            "worker": self.store.alerts.worker_seen(),  # None: never seen
        }

    def search(self, filters, cursor=None, newer=False, limit=50):
        """(rows, more) of deliveries matching `filters` (see store/reports.py), keyset-paged."""
        return self.queries.search(filters, cursor, newer, limit)

    def delivery(self, delivery_id):
        """One delivery of this mode with its attempts, or None."""
        return self.queries.delivery(delivery_id)

    def request(self, request_id):
        return self.queries.request(request_id)

    def proof(self, address):
        """Every live delivery of `address` (any case), oldest first, with attempts and read-back."""
        return self.queries.proof(address)

    def failed_count(self, destination):
        return len(self.queries.failed_ids(destination))

    def requeue_failed(self, destination):
        """Make every failed delivery of a destination due again with a fresh retry window; the worker
        sends them at the destination's rate (a web request cannot wait for thousands). Returns how many."""
        ids = self.queries.failed_ids(destination)
        chunks = (ids[i:i + REQUEUE_CHUNK] for i in range(0, len(ids), REQUEUE_CHUNK))
        return sum(self.store.ledger.requeue(chunk) for chunk in chunks)

    def record(self, action, subject, result):
        """One operator-log entry (never an address); returns its id."""
        return self.queries.log(self.store.now(), action, subject, result)

    def log_page(self, before_id=None, limit=50):
        return self.queries.entries(before_id, limit)
