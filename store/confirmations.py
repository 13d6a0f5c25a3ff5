"""Read-backs: a while after a vendor accepted an opt-out, ask it whether the contact is unsubscribed now.

The ledger schedules one when it records an accepted opt-out at a destination that can be read back
(`confirm_due_at`), leases the due ones to a worker (claim_confirmations) and stores what the vendor said
(record_confirmations). `settle` is the policy, pure: what a Confirmation makes of its row.
"""

from datetime import timedelta

from status import ALREADY_UNSUBSCRIBED, CONFIRM_UNKNOWN, CONFIRMED, FAILED, PENDING, STILL_SUBSCRIBED, UNSUBSCRIBED
from store import statements as sql
from store.breaker import OPEN

READ_BACK_AFTER = (UNSUBSCRIBED, ALREADY_UNSUBSCRIBED)  # what a read-back can confirm (not "not subscribed")
UNKNOWN_FOR = 24 * 3600.0  # read-backs without an answer stop this long after the accepted send
DETAIL_CHARS = 500


def settle(confirmation, row, now, policy, resends):
    """The column values a Confirmation sets on its row (`row`: confirm_attempts, completed_at, destination).

    confirmed: when and what. still subscribed: sent again (pending, due now) while the contact has been
    found subscribed at most `resends` times, then failed with outcome still_subscribed. unknown: asked
    again after the retry policy's backoff, until UNKNOWN_FOR after the send; then left unknown. An answer
    that was not verified proves nothing either way: it counts as unknown."""
    c = confirmation
    state = c.state if c.verified else CONFIRM_UNKNOWN
    change = {"lease_owner": None, "lease_until": None, "updated_at": now, "confirmation": state,
              "confirmation_detail": (c.detail or "")[:DETAIL_CHARS] or None, "confirm_due_at": None}
    if state == CONFIRMED:
        return {**change, "confirmed_at": now, "confirmed_until": c.until}
    if state == STILL_SUBSCRIBED:
        return {**change, **_send_again(row, now, resends, c.detail)}
    sent_at = row["completed_at"] or now - timedelta(seconds=UNKNOWN_FOR)
    waited = (now - sent_at).total_seconds()
    if waited < UNKNOWN_FOR:
        again = now + timedelta(seconds=policy.backoff_after(waited))
        change["confirm_due_at"] = min(again, sent_at + timedelta(seconds=UNKNOWN_FOR))
    return change


def _send_again(row, now, resends, detail):
    """A contact the vendor still lists: the delivery is owed again, or failed once it was `resends` times."""
    found = row["confirm_attempts"] + 1
    if found <= resends:
        return {"confirm_attempts": found, "status": PENDING, "outcome": None, "completed_at": None,
                "next_attempt_at": now, "retry_since": now}
    said = f" ({detail})" if detail else ""
    return {"confirm_attempts": found, "status": FAILED, "outcome": STILL_SUBSCRIBED, "completed_at": now,
            "last_code": STILL_SUBSCRIBED, "error_kind": STILL_SUBSCRIBED,
            "last_text": f"{row['destination']} accepted the opt-out but still listed the contact as subscribed "
                         f"{found} times{said}"}


class Confirmations:
    """Mixed into the Ledger: its writer, policy, gates, clock, mode and read-back settings."""

    def _confirm_due(self, outcome, now):
        """When an Outcome being recorded is to be read back, or None."""
        if self.confirm_after > 0 and outcome.status in READ_BACK_AFTER and outcome.destination in self.read_back:
            return now + timedelta(seconds=self.confirm_after)
        return None

    def claim_confirmations(self, owner, limit):
        """Lease up to `limit` deliveries of this mode whose read-back is due to `owner`, as Deliveries, at
        destinations that can be read back and as each one's rate admits (an open breaker waits)."""
        if self.confirm_after <= 0 or not self.read_back or not self._any_confirmation_due():
            return []

        def due(conn, name, gate, now, taken):
            if gate["state"] == OPEN or taken >= limit:
                return None
            return list(conn.execute(sql.CONFIRM_DUE, {"now": now, "destination": name, "mode": self.mode,
                                                       "limit": limit - taken}).scalars())
        return self._lease_through_gates(owner, self.read_back, due)

    def _any_confirmation_due(self):
        with self.writer.reading() as conn:
            return conn.execute(sql.CONFIRM_ANY_DUE, {"now": self.now(), "destinations": sorted(self.read_back),
                                                      "mode": self.mode}).first() is not None

    def record_confirmations(self, pairs, owner):
        """Store [(Delivery, Confirmation)] on the rows this owner still holds, in one transaction; returns
        the changes that applied (each with its `_id`)."""
        if not pairs:
            return []
        now, applied = self.now(), []
        with self.writer.writing() as conn:
            rows = {row["id"]: row for row in conn.execute(sql.CONFIRMING, {"ids": [d.id for d, _ in pairs],
                                                                            "owner": owner}).mappings()}
            for delivery, confirmation in pairs:
                if delivery.id in rows:
                    change = settle(confirmation, rows[delivery.id], now, self.policy, self.confirm_resends)
                    conn.execute(sql.SET_CONFIRMATION, {**change, "_id": delivery.id, "_owner": owner})
                    applied.append({**change, "_id": delivery.id})
        return applied
