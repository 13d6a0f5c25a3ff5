"""The shapes one unsubscribe travels in, from intake to the vendor and back (docs/architecture.md, "One webhook").

    Unsubscribe  what a caller asked, vendor-neutral (intake builds it: schemas/request.py)
    Delivery     one Unsubscribe at one destination: the vendor builds it, the ledger stores and returns it
    Outcome      what a vendor's send came to
    Confirmation what the vendor said when asked, later, whether the contact is unsubscribed now
    (the edge's Answer is built from [(Delivery, Outcome)]: delivery/answer.py)

Pure data: no I/O here, so every room may use them.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from status import PENDING, is_success


@dataclass(frozen=True)
class Unsubscribe:
    """Who to unsubscribe (as received), how to answer, the vendors' options by key (group, ID_send_message,
    ...), and how it came in: `channel` (webhook, link, cli, import), `auth` (token, signature, form key,
    link, operator) and when it was received."""

    email: str | None = None
    phone: str | None = None
    redirect: str | None = None
    dry_run: bool = False
    options: dict = field(default_factory=dict)
    channel: str | None = None
    auth: str | None = None
    received_at: datetime | None = None

    @property
    def target(self):
        """The address the person is known by: email, else phone."""
        return self.email or self.phone


def asks(payload, target):
    """What a delivery asks its vendor, the address's case aside: only deliveries asking the same may share
    one row (dedup). Mailbox providers and ESPs treat addresses case-insensitively, so Jane@ and jane@ ask
    the same; a temporary opt-out, another group or campaign asks something else."""
    lowered = target.lower()
    same = {name: lowered if value == target else value for name, value in payload.items()}
    return json.dumps(same, sort_keys=True, default=str)


@dataclass(frozen=True)
class Delivery:
    """One unsubscribe at one destination, from the vendor that built it to the ledger row and back.

    A vendor fills what it asks (destination, target, payload, the ledger's own columns group, campaign and
    options, and `answered_by`: the asks() of earlier deliveries that also answer this one). The planner adds
    the item's `index` and the `request` it came from; the ledger the row's id and state. Times are
    datetimes (naive UTC, the store's clock)."""

    destination: str
    target: str | None
    payload: dict
    group: str | None = None
    campaign: str | None = None
    options: dict = field(default_factory=dict)
    answered_by: tuple = ()  # () = only a delivery asking exactly this answers it
    index: int = 0
    request: Unsubscribe | None = None  # while in hand; None when read back from the ledger
    id: str | None = None
    is_new: bool = True  # False: an earlier row of the dedup window answers it (no row of its own)
    status: str = PENDING
    outcome: str | None = None
    last_code: str | None = None
    last_text: str | None = None
    attempts: int = 0  # attempts made before the one in hand
    retry_since: datetime | None = None
    hold: str | None = None  # why a new row is left to the worker instead of sent now (breaker, rate)
    wait: float = 0.0  # seconds after acceptance until the new row's turn at the destination's rate

    def answerable_by(self):
        """The asks() of every delivery that answers this one (dedup)."""
        return set(self.answered_by) or {asks(self.payload, self.target)}


@dataclass(frozen=True)
class Outcome:
    """What one send to a vendor came to: `status` in status.py's vocabulary, the vendor's code and text,
    whether the answer was verified (signed, or echoing what we sent) before it was believed, whether a
    retry may succeed (and after how long the vendor asked us to wait), the error's kind, and when the call
    started and how long it took (the service times it)."""

    destination: str
    status: str
    code: str | None = None
    message: str = ""
    error_kind: str | None = None  # configuration, connection, rate_limit, ...; None for a success
    transient: bool = False
    retry_after: float | None = None
    verified: bool = True
    started_at: datetime | None = None
    duration_ms: int | None = None

    @property
    def ok(self):
        """True when the person is (or already was) off the list."""
        return is_success(self.status)


@dataclass(frozen=True)
class Confirmation:
    """What a read-back found at one destination: `state` is status.py's CONFIRMED, STILL_SUBSCRIBED or
    CONFIRM_UNKNOWN; `detail` a short, address-free text of what the vendor said; `until` the last day of a
    temporary opt-out; for an unknown state whether asking again may help and the error's kind; whether the
    answer was verified (signed, or naming the address asked) before it was believed."""

    destination: str
    state: str
    detail: str = ""
    until: date | None = None
    transient: bool = False
    error_kind: str | None = None
    verified: bool = True
