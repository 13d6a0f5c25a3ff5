"""Where rate-limit counters live: RATE_LIMIT_STORAGE_URI (Redis, shared by every process), and counters in
this process while that store fails.

A limit store that fails must never stop an opt-out. Redis is asked with short socket timeouts and no
retries (limitstorage.py); when it fails, this process counts in memory for REST_SECONDS before Redis is asked
again, and says so once per WARN_EVERY seconds in the log (not once per request) and in /readyz. Counting
apart lets a client through up to once per process while Redis is down: the cost of never refusing intake.
"""

import logging
import time
from datetime import datetime, timezone

from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from limitstorage import is_redis, open_storage

log = logging.getLogger("unsub_relay.web")
REST_SECONDS = 15.0  # how long this process counts alone after Redis failed
WARN_EVERY = 60.0


class LimitStore:
    """Fixed windows (constant work per hit) counted in the shared store, or in memory while it fails."""

    def __init__(self, uri, clock=time.monotonic):
        self.backend = "redis" if is_redis(uri) else uri.split(":", 1)[0]
        self.shared = FixedWindowRateLimiter(open_storage(uri))
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.clock, self.resting_until, self.warned_at = clock, None, None
        self.failed_since, self.reason = None, None

    def hit(self, item, *identifiers):
        """(allowed, seconds until the window resets) for one hit of `item` against `identifiers`."""
        if self._resting():
            return self._hit(self.local, item, identifiers)
        try:
            result = self._hit(self.shared, item, identifiers)
        except Exception as exc:  # noqa: BLE001 - any failure of the store: count here instead
            self._failed(exc)
            return self._hit(self.local, item, identifiers)
        if self.failed_since is not None:
            self._recovered()
        return result

    def _ping(self):
        try:
            answered = self.shared.storage.check()
        except Exception as exc:  # noqa: BLE001 - any failure of the store is the same answer
            answered, error = False, exc
        else:
            error = ConnectionError("no answer to a ping")
        if not answered:
            self._failed(error)
        elif self.failed_since is not None:
            self._recovered()

    @staticmethod
    def _hit(limiter, item, identifiers):
        if limiter.hit(item, *identifiers):
            return True, 0.0
        return False, limiter.get_window_stats(item, *identifiers).reset_time - time.time()

    def _resting(self):
        """True while this process counts alone; the first hit after the rest asks the shared store again."""
        if self.resting_until is not None and self.clock() >= self.resting_until:
            self.resting_until = None
        return self.resting_until is not None

    def _failed(self, exc):
        now = self.clock()
        self.resting_until = now + REST_SECONDS
        self.reason = type(getattr(exc, "storage_error", None) or exc).__name__
        if self.failed_since is None:
            self.failed_since = datetime.now(timezone.utc)
        if self.warned_at is None or now - self.warned_at >= WARN_EVERY:
            self.warned_at = now
            log.warning("rate limits: the %s store failed (%s); counting in this process meanwhile",
                        self.backend, self.reason)

    def _recovered(self):
        log.info("rate limits: the %s store answers again; counting there", self.backend)
        self.failed_since, self.reason, self.warned_at = None, None, None

    def health(self):
        """What /readyz shows: the store, and whether this process counts alone (degraded) and why. Outside a
        rest the shared store is asked once (a short ping), so any process's /readyz knows, not only one
        whose requests happened to fail."""
        if not self._resting():
            self._ping()
        if self.failed_since is None:
            return {"store": self.backend, "status": "ok"}
        return {"store": self.backend, "status": "degraded", "counting": "in this process",
                "since": self.failed_since.isoformat(timespec="seconds"), "reason": self.reason}
