"""The durable ledger: one Store bundles the engine, the write engine, the retry policy, commands and queries."""

import random
from datetime import datetime, timezone

from store.db import make_engine, migrate, upgrade
from store import gates
from store.breaker import GatePolicy
from store.engine import WriteEngine
from store.meters import meter_for
from store.ledger import Ledger
from store.queries import Queries
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
        meter = meter_for(settings.rate_limit_storage_uri, settings.max_rates)
        self.gate_policy = GatePolicy(settings.breaker_failures, settings.retry_base_seconds,
                                      settings.max_rates, meter)
        self.ledger = Ledger(self.writer, self.policy, self.gate_policy, self.now, settings.dedup_window_seconds)
        self.queries = Queries(self.writer, self.now)

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

    def problems(self):
        """Why the store cannot take writes now, or []."""
        return self.writer.problems()

    def close(self):
        """Close every connection."""
        self.writer.close()
