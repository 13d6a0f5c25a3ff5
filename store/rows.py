"""The shape the ledger takes and gives (schemas/shapes.py's Delivery), and the modes a row may carry.

The service hands the ledger Deliveries and gets Deliveries back: accept places them (id, new or an
earlier row's, its state), record reads each one's Outcome, claim and the request's rows come back as
Deliveries read from their rows. `read_delivery` is the one place a row becomes a Delivery.
"""

import uuid
from dataclasses import dataclass, fields
from datetime import datetime

from schemas.shapes import Delivery, asks  # noqa: F401 - asks is the ledger's dedup rule

LIVE, SANDBOX = "live", "sandbox"
# Delivery fields stored in a column of the same name (request, index and group are stored otherwise).
COLUMNS = {field.name for field in fields(Delivery)} - {"request", "index", "group"}


def recordset(rows, names=None):
    """`rows` (dicts) as the value of a recordset parameter (statements.recordset: one JSON document for a
    batch): the `names`d values (all, by default), datetimes as ISO text (naive UTC, as the store keeps
    them, which PostgreSQL reads back exactly)."""
    return [{name: value.isoformat() if isinstance(value, datetime) else value
             for name, value in row.items() if names is None or name in names} for row in rows]


def new_id():
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class KeyState:
    """An idempotency key already taken: by which request, for what, answered or still leased."""

    request_id: str
    fingerprint: str | None
    answer: dict | None
    lease_until: object


def read_delivery(row):
    """A ledger row (read through `.mappings()`) as a Delivery of it: the columns a statement did not read keep the
    Delivery's defaults (`is_new`: True, the row is its own; `request`: None, the Unsubscribe is not kept)."""
    taken = {name: row[name] for name in COLUMNS if name in row}
    taken = {"target": None, "payload": {}, **taken}
    return Delivery(**taken, index=row.get("item_index", 0), group=row.get("group_name"))
