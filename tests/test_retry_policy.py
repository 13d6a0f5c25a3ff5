"""The retry policy as a table: no clock, no database, no Flask."""

from datetime import datetime, timedelta

import pytest

from connectors.base import failure
from connectors.errors import (APIConnectionError, ConfigurationError, InvalidRequestError, RateLimitError,
                               VerificationError)
from schemas.shapes import Outcome
from store.retry import RetryPolicy

NOW = datetime(2026, 11, 23, 12, 0, 0)
H = 3600


def result(kind, code="x"):
    """A vendor's Outcome as each kind of answer produces it."""
    if kind in ("unsubscribed", "already_unsubscribed", "not_subscribed"):
        return Outcome("justclick", kind, code, "ok")
    error = {"timeout": APIConnectionError, "rate": RateLimitError, "config": ConfigurationError,
             "verify": VerificationError, "invalid": InvalidRequestError}[kind]("vendor said so", code)
    return failure("justclick", error)


@pytest.mark.parametrize("kind, age_hours, state, outcome, error_kind, retried", [
    ("unsubscribed", 0, "done", "unsubscribed", None, False),
    ("already_unsubscribed", 47, "done", "already_unsubscribed", None, False),
    ("not_subscribed", 1, "done", "not_subscribed", None, False),
    ("timeout", 0, "pending", None, "connection", True),
    ("rate", 47.9, "pending", None, "rate_limit", True),
    ("timeout", 48, "failed", "failed", "expired", False),
    ("rate", 100, "failed", "failed", "expired", False),
    ("config", 0, "failed", "failed", "configuration", False),
    ("verify", 0, "failed", "failed", "verification", False),
    ("invalid", 0, "failed", "rejected", "invalid_request", False),
], ids=["done", "already", "nolist", "transient", "rate-limit-late", "expired-at-48h", "expired-late",
        "configuration", "verification", "rejected"])
def test_decide(kind, age_hours, state, outcome, error_kind, retried):
    policy = RetryPolicy(base=30, max_age=48 * H, rand=lambda: 1.0)
    change = policy.decide(result(kind), 3, NOW - timedelta(hours=age_hours), NOW)
    assert (change["status"], change["outcome"], change["error_kind"]) == (state, outcome, error_kind)
    assert change["attempts"] == 3 and change["lease_owner"] is None
    assert (change["next_attempt_at"] > NOW) == retried
    assert (change["completed_at"] is None) == retried
    if error_kind == "expired":
        assert change["last_text"].startswith("gave up after 3 attempts")


@pytest.mark.parametrize("attempts, rand, seconds", [
    (1, 0.0, 15), (1, 1.0, 30), (2, 1.0, 60), (3, 0.5, 90), (8, 1.0, 3600), (40, 0.0, 1800), (0, 1.0, 30),
], ids=["first-low", "first-high", "second", "third-mid", "capped", "capped-low", "zero"])
def test_backoff(attempts, rand, seconds):
    assert RetryPolicy(base=30, rand=lambda: rand).backoff(attempts) == seconds


@pytest.mark.parametrize("timeout, lease", [(10, 50), (2, 34), (25, 80)], ids=["default", "short", "longest"])
def test_lease_outlives_the_longest_send(timeout, lease):
    assert RetryPolicy(upstream_timeout=timeout).lease_seconds == lease
