"""The destination gate as tables: breaker transitions, probe steps, the token bucket, Retry-After."""

from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import failure, retry_after_seconds
from connectors.errors import APIConnectionError, InvalidRequestError, RateLimitError
from schemas.shapes import Outcome
from store.breaker import GatePolicy
from store.gates import fresh

NOW = datetime(2026, 11, 23, 12, 0, 0)


def at(seconds):
    return NOW + timedelta(seconds=seconds)


def result(kind, retry_after=None):
    if kind == "ok":
        return Outcome("justclick", "unsubscribed", "0")
    error = {"down": APIConnectionError("down"), "rejected": InvalidRequestError("no group", 800),
             "rate": RateLimitError("slow down", 8, retry_after=retry_after)}[kind]
    return failure("justclick", error)


def gate(**values):
    return {**fresh("justclick"), **values}


@pytest.mark.parametrize("results, state, failures, next_probe", [
    (["down"] * 4, "closed", 4, None),
    (["down"] * 5, "open", 5, 30),
    (["down"] * 4 + ["ok"], "closed", 0, None),
    (["down"] * 4 + ["rejected"], "closed", 0, None),
    (["rate"], "open", 1, 30),
    ([("rate", 900)], "open", 1, 900),
    ([("rate", 5)], "open", 1, 30),
], ids=["below-threshold", "opens-at-threshold", "success-resets", "an-answer-resets", "code-8-at-once",
        "retry-after-longer", "retry-after-shorter"])
def test_observe_from_closed(results, state, failures, next_probe):
    policy, g = GatePolicy(failures=5, probe_base=30), gate()
    for item in results:
        kind, after = item if isinstance(item, tuple) else (item, None)
        policy.observe(g, result(kind, after), NOW)
    assert (g["state"], g["failures"]) == (state, failures)
    assert g["next_probe_at"] == (None if next_probe is None else at(next_probe))


@pytest.mark.parametrize("failed_probes, step", [(0, 30), (1, 60), (3, 240), (5, 600), (20, 600)],
                         ids=["first", "second", "fourth", "capped", "long-outage"])
def test_probe_steps_double_and_are_capped(failed_probes, step):
    assert GatePolicy(probe_base=30).probe_step(failed_probes) == step


def test_a_failed_probe_waits_longer_and_a_good_one_closes():
    policy, g = GatePolicy(failures=1, probe_base=30), gate()
    assert policy.observe(g, result("down"), NOW) == "opened"
    assert policy.admit(g, 10, at(29)) == (0, policy.open_reason(g))
    granted, reason = policy.admit(g, 10, at(30))
    assert granted == 1 and "failing since 2026-11-23T12:00:00Z" in reason
    assert policy.admit(g, 1, at(31))[0] == 0  # the probe holds the slot
    assert policy.observe(g, result("down"), at(31)) is None and g["next_probe_at"] == at(91)
    assert policy.admit(g, 1, at(91)) == (1, None)
    assert policy.observe(g, result("ok"), at(92)) == "closed" and g["state"] == "closed"


@pytest.mark.parametrize("rate, steps, granted", [
    (0, [(0, 500)], [500]),
    (10, [(0, 50)], [10]),
    (10, [(0, 50), (0.5, 50), (1.5, 50)], [10, 5, 10]),
    (2.5, [(0, 5), (1, 5), (2, 5), (3, 5)], [2, 3, 2, 3]),
    (0.5, [(0, 3), (1, 3), (2, 3)], [1, 0, 1]),
], ids=["unlimited", "burst-is-one-second", "refills-with-time", "fractional-rate", "slow-rate"])
def test_token_bucket(rate, steps, granted):
    policy, g = GatePolicy(rates={"justclick": rate}), gate()
    assert [policy.admit(g, wanted, at(t))[0] for t, wanted in steps] == granted


TENTHS = [round(0.1 * k, 3) for k in range(1, 11)]


@pytest.mark.parametrize("gate_values, steps, waits", [
    ({}, [(0, 12, 0)], [[0.0] * 10]),
    ({}, [(0, 25, 1)], [[0.0] * 10 + TENTHS]),
    ({}, [(0, 15, 1), (0.5, 10, 1)], [[0.0] * 10 + TENTHS[:5], TENTHS]),
    ({}, [(0, 20, 1), (1, 5, 0), (1.1, 5, 0)], [[0.0] * 10 + TENTHS, [], [0.0]]),
    ({"tokens": 0.0, "tokens_at": NOW + timedelta(seconds=1)}, [(0.5, 10, 1)], [[0.6, 0.7, 0.8, 0.9, 1.0]]),
    ({"state": "open", "next_probe_at": NOW + timedelta(seconds=60)}, [(0, 5, 20)], [[]]),
], ids=["no-patience-as-before", "turns-within-the-bound", "debt-is-paid-with-time",
        "a-worker-comes-after-reserved-turns", "bucket-ahead-of-our-clock", "open-breaker-never-waits"])
def test_reserved_turns(gate_values, steps, waits):
    """Over the rate, a delivery may take a later turn within `patience` seconds (the bucket goes into debt);
    whoever comes next, patient or not, comes after it."""
    policy, g = GatePolicy(rates={"justclick": 10}), gate(**gate_values)
    got = [[round(w, 3) for w in policy.reserve(g, wanted, at(t), patience)[0]]
           for t, wanted, patience in steps]
    assert got == waits


@pytest.mark.parametrize("header, seconds", [
    ("120", 120.0), ("", None), (None, None), ("soon", None), ("99999999", 6 * 3600.0),
    ("Mon, 23 Nov 2026 12:01:00 GMT", 60.0), ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),
], ids=["seconds", "empty", "absent", "garbage", "capped", "http-date", "date-in-the-past"])
def test_retry_after(header, seconds):
    assert retry_after_seconds(header, now=NOW.replace(tzinfo=timezone.utc)) == seconds


@pytest.mark.parametrize("values, rates, free", [
    ({}, {}, True), ({}, {"justclick": 0}, True), ({}, {"mailkit": 2.0}, True), ({}, {"justclick": 2.0}, False),
    ({"state": "open", "next_probe_at": at(-1)}, {}, False), ({"failures": 3}, {}, True),
], ids=["closed-no-rate", "rate-zero-is-none", "another-destinations-rate", "rated", "open-breaker",
        "closed-with-failures"])
def test_a_free_gate_admits_everything_unchanged(values, rates, free):
    """What the ledger may admit from an unlocked read (store/gates.peek): a free gate's reserve grants every
    delivery at once and leaves the gate as it was."""
    policy, before = GatePolicy(rates=rates), gate(**values)
    assert policy.free(before) is free
    if free:
        after = dict(before)
        assert policy.reserve(after, 5, NOW, patience=10.0) == ([0.0] * 5, None) and after == before
