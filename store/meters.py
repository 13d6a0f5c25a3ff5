"""A destination's delivery rate counted in Redis, when RATE_LIMIT_STORAGE_URI names one.

By default the rate is a token bucket kept in the destination's gate row (store/breaker.py), decided in
the same transaction as the rows it admits. With Redis configured the count moves there: moving windows
per destination, through the `limits` library (the engine under Flask-Limiter; its Redis strategy is one
atomic Lua script per hit), so every web and worker process, on any database, shares one rate. If Redis
does not answer, the gate row counts instead (for REST_AFTER_FAILURE seconds before Redis is asked again):
the rate still holds, and no delivery waits on Redis more than once.
"""

import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("unsub_relay.store")
WINDOWS = (1, 2, 4, 5, 10, 20, 30, 60)  # seconds: the shortest in which the rate is a whole number
WARN_EVERY = 60.0  # seconds between two warnings that Redis is not answering
REST_AFTER_FAILURE = 30.0  # seconds the ledger counts alone after Redis failed (no 0.5 s wait per grant)


def windows_for(rate):
    """[(deliveries, seconds)] that together hold a rate per second: at most ceil(rate) in any second (as
    the ledger's bucket allows one second's worth at once), and the rate itself over the shortest window
    holding a whole number of deliveries (2.5/s: 3 in a second, 5 in two), or one per 1/rate seconds."""
    burst = (math.ceil(rate - 1e-9), 1)
    if rate < 1:
        return [(1, max(1, round(1 / rate)))]
    for seconds in WINDOWS:
        amount = rate * seconds
        if abs(amount - round(amount)) < 1e-9:
            return sorted({burst, (round(amount), seconds)}, key=lambda window: window[1])
    return [burst, (math.floor(rate * 60), 60)]


def is_redis(uri):
    return uri.split(":", 1)[0] in ("redis", "rediss", "redis+unix")


class RedisMeter:
    """Grants deliveries per destination against a moving window in Redis (see the module's doc)."""

    def __init__(self, uri, rates):
        # Short timeouts: a Redis that hangs must not hold a webhook (the ledger counts instead).
        storage = storage_from_string(uri, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.window = MovingWindowRateLimiter(storage)
        self.items = {name: [RateLimitItemPerSecond(amount, seconds, namespace="unsub-relay")
                             for amount, seconds in windows_for(rate)]
                      for name, rate in rates.items() if rate and rate > 0}
        self.warned_at, self.resting_until = 0.0, 0.0

    def take(self, destination, wanted):
        """How many of `wanted` deliveries may go now; None when Redis cannot say (count elsewhere).

        Called inside the ledger's write transaction: after a failure Redis is left alone for a while, so
        a Redis that hangs costs one timeout, not one per delivery."""
        items = self.items.get(destination)
        if items is None:
            return wanted
        if time.monotonic() < self.resting_until:
            return None
        granted = 0
        try:
            # A grant hits every window; one refused ends the round (a shorter window's hit is then spent
            # for nothing, which errs on the slow side).
            while granted < wanted and all(self.window.hit(item, "delivery", destination) for item in items):
                granted += 1
        except Exception as exc:  # noqa: BLE001 - any Redis failure: the gate row counts instead
            self.resting_until = time.monotonic() + REST_AFTER_FAILURE
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
