"""Per-destination gate policy, pure: a circuit breaker and a token-bucket delivery rate.

A gate is a plain dict with the columns of `destination_gates`; these functions read and change it and
return what happened, so every rule has a table test. The store (gates.py) loads and saves the rows inside
the transaction that acts on them, which makes every decision hold across processes.
"""

from datetime import timedelta

CLOSED, OPEN = "closed", "open"
MAX_PROBE_SECONDS = 600.0  # after an outage ends, the backlog waits at most this long for the next probe
# What an answer from the vendor (success or refusal) leaves behind, whatever the gate was before.
SETTLED = {"state": CLOSED, "failures": 0, "failed_probes": 0, "probing": 0, "opened_at": None,
           "next_probe_at": None, "reason": None}


class GatePolicy:
    """When a destination's breaker opens and probes, and how fast deliveries may go to it."""

    def __init__(self, failures=5, probe_base=30.0, rates=None):
        self.failures, self.probe_base, self.rates = failures, probe_base, rates or {}

    def probe_step(self, failed_probes):
        """Seconds between probes: from probe_base, doubling with each failed probe, capped."""
        return min(self.probe_base * 2 ** failed_probes, MAX_PROBE_SECONDS)

    def admit(self, gate, wanted, now):
        """How many of `wanted` deliveries may go now, and why not the rest (None when all may)."""
        waits, reason = self.reserve(gate, wanted, now)
        return len(waits), reason

    def free(self, gate):
        """True when the gate lets any number of deliveries go now and stays as it is: breaker closed, no
        delivery rate for its destination. Such a gate needs no lock to admit (reserve changes nothing)."""
        return gate["state"] == CLOSED and (self.rates.get(gate["destination"]) or 0.0) <= 0

    def reserve(self, gate, wanted, now, patience=0.0):
        """([seconds from `now` until each granted delivery's turn], why not the rest or None).

        A delivery over the rate may take a later turn within `patience` seconds: the bucket goes into debt
        (GCRA's reserved slots), so whoever asks next, web or worker, comes after it. An open breaker
        grants at most its probe, and never a later turn."""
        if wanted <= 0:
            return [], None
        if gate["state"] == OPEN:
            if gate["next_probe_at"] is not None and gate["next_probe_at"] <= now:
                # This probe holds the slot: nobody else probes until it is recorded or the step passes.
                gate["next_probe_at"] = now + timedelta(seconds=self.probe_step(gate["failed_probes"]))
                gate["probing"] = 1
                return [0.0], None if wanted == 1 else self.open_reason(gate)
            return [], self.open_reason(gate)
        waits = self._take(gate, wanted, now, patience)
        return waits, None if len(waits) == wanted else "over the destination's delivery rate"

    def _take(self, gate, wanted, now, patience):
        rate = self.rates.get(gate["destination"]) or 0.0
        if rate <= 0:
            return [0.0] * wanted
        burst = max(1.0, rate)  # one second's worth at once; the bucket keeps a fraction over that, so a
        # rate of 2.5 grants 2, 3, 2, 3 a second rather than losing the halves
        # Another process may have moved the bucket past our `now` (it read its clock later but locked the
        # row first): count from the bucket's time, so no turn is given earlier than the bucket allows.
        start = max(now, gate["tokens_at"]) if gate["tokens_at"] else now
        elapsed = (start - gate["tokens_at"]).total_seconds() if gate["tokens_at"] else burst / rate
        tokens = min(burst + 1.0, (gate["tokens"] or 0.0) + elapsed * rate)
        ahead = (start - now).total_seconds()
        waits = []
        while len(waits) < wanted:
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate  # until the bucket holds one again
            if wait > 0 and ahead + wait > patience:
                break
            tokens -= 1.0
            waits.append(ahead + wait)
        gate["tokens"], gate["tokens_at"] = tokens, start
        return waits

    @staticmethod
    def open_reason(gate):
        since = gate["opened_at"].isoformat(timespec="seconds") + "Z" if gate["opened_at"] else "recently"
        return (f"{gate['destination']} has been failing since {since}; queued without waiting "
                f"(the worker probes it and delivers once it answers)")

    @staticmethod
    def settles(result):
        """True when the result leaves the gate SETTLED whatever its state: the vendor answered (success or
        a refusal), so it is up."""
        return not result.transient

    def observe(self, gate, result, now):
        """Update the gate with one result; returns "opened", "closed" or None."""
        if self.settles(result):
            was_open = gate["state"] == OPEN
            gate.update(SETTLED)
            return "closed" if was_open else None
        gate["failures"] += 1
        if not self.failures:  # 0: it never opens (the sandbox, where a failure concerns one address)
            return None
        retry_after = result.retry_after or 0.0
        rate_limited = result.error_kind == "rate_limit"
        if gate["state"] == OPEN and not gate.get("probing"):
            return None  # a straggler sent before the breaker opened: it says nothing new
        if gate["state"] == OPEN:  # a failed probe: wait longer
            gate["failed_probes"] += 1
            gate["probing"] = 0
        elif gate["failures"] < self.failures and not rate_limited:
            return None
        opened = gate["state"] == CLOSED
        if opened:
            gate.update(state=OPEN, opened_at=now, failed_probes=0)
        wait = max(self.probe_step(gate["failed_probes"]), retry_after)
        gate.update(next_probe_at=now + timedelta(seconds=wait), reason=result.message)
        return "opened" if opened else None
