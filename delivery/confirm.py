"""Read-backs: a while after a vendor accepted an opt-out (CONFIRM_AFTER_SECONDS), the worker asks it whether
the contact is off the list now, and the ledger keeps what it said (issue 20). The ledger decides what is due
and what an answer leads to (confirmed; sent again; failed after CONFIRM_RESENDS); this asks and records."""

import logging

from errors import StoreUnavailable

log = logging.getLogger("unsub_relay.worker")


class Confirmer:
    """One worker's read-backs: claim those due, ask each vendor (on the worker's pool), record the answers."""

    def __init__(self, service, owner, pool, limit):
        self.service, self.ledger, self.owner = service, service.store.ledger, owner
        self.pool, self.limit = pool, limit

    def run_once(self):
        """One round; returns how many read-backs it made (0 when none was due or the store blinked)."""
        try:
            due = self.ledger.claim_confirmations(self.owner, self.limit)
        except StoreUnavailable as exc:
            log.error("claiming read-backs failed (%s); trying again later", exc.reason)
            return 0
        if not due:
            return 0
        pairs = list(self.pool.map(self.service.read_back, due))
        try:
            self.ledger.record_confirmations(pairs, self.owner)
        except StoreUnavailable as exc:  # their leases expire and they come back
            log.error("recording %d read-backs failed (%s)", len(pairs), exc.reason)
            return 0
        for delivery, confirmation in pairs:
            # The state and error kind only: a vendor's error text may quote what it was sent.
            log.info("read-back id=%s destination=%s state=%s error=%s", delivery.id, delivery.destination,
                     confirmation.state, confirmation.error_kind or "-")
        return len(pairs)
