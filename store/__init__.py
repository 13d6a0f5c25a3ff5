"""The durable ledger, behind one door: a Store owns the engine and the write engine; everything above the
store calls its methods and the objects it exposes (ledger, queries, reports, alerts, sessions), never a
table, a connection or a statement. Every statement is named in store/statements.py.

Storage model: PostgreSQL whenever more than one process or machine is involved and on every PaaS (their
disks are ephemeral); SQLite for one machine (the sandbox, a small VPS), its writers queued on a file lock.
"""

import random
from datetime import datetime, timezone

from store import export, gates
from store.alerts import AlertStore
from store.breaker import GatePolicy
from store.db import make_engine, migrate, upgrade
from store.engine import WriteEngine
from store.ledger import Ledger
from store.queries import Queries
from store.reports import ReportQueries
from store.retry import RetryPolicy
from store.rows import LIVE, SANDBOX
from store.sessions import ConsoleSessions, LoginFailures


def utcnow():
    """Naive UTC now: the ledger stores naive UTC on every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """Everything the delivery service needs from the database. `clock` may be replaced (tests).

    `engine` is SQLAlchemy's, for tests and benchmarks that arrange or inspect rows; the service's own code
    goes through the methods and the objects below."""

    def __init__(self, settings, clock=utcnow, rand=random.random, read_back=frozenset()):
        self.clock = clock
        self.engine = make_engine(settings.database_url)
        self.writer = WriteEngine(self.engine)
        self.policy = RetryPolicy(settings.retry_base_seconds, settings.retry_max_age_seconds,
                                  settings.upstream_timeout, rand)
        self.gate_policy = GatePolicy(settings.breaker_failures, settings.retry_base_seconds,
                                      settings.max_rates)
        # Rows carry their mode: a sandbox process on a live ledger neither sees nor delivers live rows.
        self.mode = SANDBOX if settings.sandbox else LIVE
        # `read_back`: the destinations whose vendor can be asked whether an opt-out took effect (the
        # connectors' supports_read_back); only their deliveries are scheduled for a read-back.
        self.ledger = Ledger(self.writer, self.policy, self.gate_policy, self.now,
                             settings.dedup_window_seconds, settings.rate_wait_seconds, self.mode,
                             settings.confirm_after_seconds, settings.confirm_resends, frozenset(read_back))
        self.queries = Queries(self.writer, self.now, self.mode)
        self.reports = ReportQueries(self.writer, self.mode)
        self.alerts = AlertStore(self.writer, self.now, self.backlog, self.mode)
        self.console_sessions = ConsoleSessions(self.writer, self.now)
        self.login_failures = LoginFailures(self.writer, self.now)

    def now(self):
        """The store's time (naive UTC)."""
        return self.clock()

    def upgrade(self):
        """Create or upgrade the schema (Alembic)."""
        upgrade(self.engine)

    def migrate(self):
        """Upgrade to head safely while other processes start too: (revision before, after)."""
        return migrate(self.engine, self.writer.file_lock)

    def backlog(self):
        """(pending deliveries of this mode, when the oldest of them was accepted or None), in one read."""
        return self.queries.backlog()

    def age(self, moment):
        """Seconds from `moment` (a ledger time, or None) to now; 0 for None."""
        return 0.0 if moment is None else max((self.now() - moment).total_seconds(), 0.0)

    def export(self, since=None, until=None, target=None):
        """Yield (delivery, [attempts]) of this mode, oldest first, streamed (see store/export.py)."""
        return export.deliveries(self.writer, self.mode, since, until, target)

    def gates(self):
        """Every destination's breaker and rate state (typed values), for /readyz and the operator."""
        with self.writer.reading() as conn:
            return gates.states(conn)

    def other_mode_pending(self):
        """How many pending rows of the other mode (sandbox for a live process, live for a sandbox one) are
        in this ledger: no process of this mode will deliver them."""
        return self.queries.other_mode_pending()

    def problems(self):
        """Why the store cannot take writes now, or []."""
        return self.writer.problems()

    def close(self):
        """Close every connection."""
        self.writer.close()
