"""The retry policy, pure: how long to wait before the next attempt, and what a result makes of a row.

No clock and no database here: `now` and the row's history come in, column values go out, so every rule
has a table test (tests/test_retry_policy.py).
"""

import math
import random
from datetime import timedelta

from status import DONE, FAILED, PENDING

MAX_BACKOFF_SECONDS = 3600.0
# The columns `decide` sets, every time (the store prepares one UPDATE for them).
RESULT_COLUMNS = ("attempts", "updated_at", "last_code", "last_text", "error_kind", "lease_owner",
                  "lease_until", "status", "outcome", "completed_at", "next_attempt_at")


class RetryPolicy:
    """Exponential backoff with jitter for `max_age` seconds after the first (or replayed) acceptance."""

    def __init__(self, base=30.0, max_age=48 * 3600.0, upstream_timeout=10.0, rand=random.random):
        self.base, self.max_age, self.rand = base, max_age, rand
        # A lease outlives the longest send (the upstream timeout, twice for safety) plus recording it.
        self.lease_seconds = upstream_timeout * 2 + 30

    def backoff(self, attempts):
        """Seconds before the next try: exponential from base, capped at an hour, jitter over the top half."""
        delay = min(self.base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
        return delay / 2 + self.rand() * delay / 2

    def backoff_after(self, waited):
        """The backoff of the try that waits doubling from `base` have reached after `waited` seconds: the
        tries of a read-back without answer are counted by the time they took, not in a column."""
        return self.backoff(1 + int(math.log2(1 + max(waited, 0.0) / self.base)))

    def decide(self, result, attempts, retry_since, now):
        """The column values that store `result` as attempt number `attempts` of a row.

        `result` has status, code, message, ok, transient and error_kind (a connectors Result).
        """
        change = {"attempts": attempts, "updated_at": now, "last_code": result.code,
                  "last_text": result.message, "error_kind": result.error_kind,
                  "lease_owner": None, "lease_until": None, "status": FAILED, "outcome": result.status,
                  "completed_at": now, "next_attempt_at": now}
        if result.ok:
            change["status"] = DONE
        elif result.transient and now - retry_since < timedelta(seconds=self.max_age):
            change.update(status=PENDING, outcome=None, completed_at=None,
                          next_attempt_at=now + timedelta(seconds=self.backoff(attempts)))
        elif result.transient:
            change.update(error_kind="expired", last_text=f"gave up after {attempts} attempts: {result.message}")
        return change
