"""The durable ledger: one Store bundles the engine, the write engine, the retry policy, commands and queries."""

import random
from datetime import datetime, timezone

from store.db import make_engine, migrate, upgrade
from store import gates
from store.breaker import GatePolicy
from store.engine import WriteEngine
from store.ledger import Ledger
from store.rows import LIVE, SANDBOX
from store.queries import Queries
from store.sessions import ConsoleSessions, LoginFailures
from store.retry import RetryPolicy


def utcnow():
    """Naive UTC now: the ledger stores naive UTC on every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """Everything the delivery service needs from the database. `clock` may be replaced (tests)."""

    def __init__(self, settings, clock=utcnow, rand=random.random):
        self.clock = clock
        self.engine = make_engine(settings.database_url)
        self.writer = WriteEngine(self.engine)
        self.policy = RetryPolicy(settings.retry_base_seconds, settings.retry_max_age_seconds,
                                  settings.upstream_timeout, rand)
        self.gate_policy = GatePolicy(settings.breaker_failures, settings.retry_base_seconds,
                                      settings.max_rates)
        # Rows carry their mode: a sandbox process on a live ledger neither sees nor delivers live rows.
        self.mode = SANDBOX if settings.sandbox else LIVE
        self.ledger = Ledger(self.writer, self.policy, self.gate_policy, self.now,
                             settings.dedup_window_seconds, settings.rate_wait_seconds, self.mode)
        self.queries = Queries(self.writer, self.now, self.mode)
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

    def gates(self):
        """Every destination's breaker and rate state, for /readyz and the operator."""
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
