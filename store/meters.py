"""A destination's delivery rate counted in Redis, when RATE_LIMIT_STORAGE_URI names one.

By default the rate is a token bucket kept in the destination's gate row (store/breaker.py), decided in
the same transaction as the rows it admits. With Redis configured the count moves there: a moving window
per destination, through the `limits` library (the engine under Flask-Limiter; its Redis strategy is one
atomic Lua script per hit), so every web and worker process, on any database, shares one rate. If Redis
does not answer, the gate row counts instead: the rate still holds, and no delivery waits on Redis.
"""

import logging
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("unsub_relay.store")
WINDOWS = (1, 2, 4, 5, 10, 20, 30, 60)  # seconds: the shortest in which the rate is a whole number
WARN_EVERY = 60.0  # seconds between two warnings that Redis is not answering


def window_for(rate):
    """(deliveries, seconds) for a rate per second: the shortest window holding a whole number of them,
    else the rate rounded over a minute."""
    for seconds in WINDOWS:
        amount = rate * seconds
        if amount >= 1 and abs(amount - round(amount)) < 1e-9:
            return round(amount), seconds
    return max(1, round(rate * 60)), 60


def is_redis(uri):
    return uri.split(":", 1)[0] in ("redis", "rediss", "redis+unix")


class RedisMeter:
    """Grants deliveries per destination against a moving window in Redis (see the module's doc)."""

    def __init__(self, uri, rates):
        # Short timeouts: a Redis that hangs must not hold a webhook (the ledger counts instead).
        storage = storage_from_string(uri, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.window = MovingWindowRateLimiter(storage)
        self.items = {name: RateLimitItemPerSecond(*window_for(rate), namespace="unsub-relay")
                      for name, rate in rates.items() if rate and rate > 0}
        self.warned_at = 0.0

    def take(self, destination, wanted):
        """How many of `wanted` deliveries may go now; None when Redis cannot say (count elsewhere)."""
        item = self.items.get(destination)
        if item is None:
            return wanted
        granted = 0
        try:
            while granted < wanted and self.window.hit(item, "delivery", destination):
                granted += 1
        except Exception as exc:  # noqa: BLE001 - any Redis failure: the gate row counts instead
            self._warn(exc)
            return None if granted == 0 else granted
        return granted

    def _warn(self, exc):
        if time.monotonic() - self.warned_at > WARN_EVERY:
            self.warned_at = time.monotonic()
            log.warning("delivery rate: Redis did not answer (%s); counting in the ledger meanwhile",
                        type(exc).__name__)


def meter_for(uri, rates):
    """A RedisMeter when `uri` names Redis and some destination has a rate; else None (the gate row)."""
    if is_redis(uri) and any(rate and rate > 0 for rate in rates.values()):
        return RedisMeter(uri, rates)
    return None
