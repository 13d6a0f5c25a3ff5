"""The one vocabulary of status names, used by connectors, the ledger, answers and the CLI.

An *outcome* says what one unsubscribe at one destination came to; a delivery row's *state* says where it
is in its life. The answer's top-level status is the most serious outcome of its results.
"""

# Outcomes of one delivery, as answers, the ledger's `outcome` column and the CLI report them.
UNSUBSCRIBED = "unsubscribed"
ALREADY_UNSUBSCRIBED = "already_unsubscribed"
NOT_SUBSCRIBED = "not_subscribed"  # the person was on no list: a success
QUEUED = "queued"  # accepted; the worker will deliver it
REJECTED = "rejected"  # the vendor (or our validation) refused the data: fix the input
FAILED = "failed"  # our configuration, the vendor's answer or 48 hours of retries: the operator must act
DRY_RUN = "dry_run"

SUCCESSES = (UNSUBSCRIBED, ALREADY_UNSUBSCRIBED, NOT_SUBSCRIBED)
# Most serious first: an answer's status is the first of these that any of its results has.
SEVERITY = (FAILED, REJECTED, QUEUED, UNSUBSCRIBED, ALREADY_UNSUBSCRIBED, NOT_SUBSCRIBED)

# What a vendor's read-back says of an accepted opt-out (a delivery's `confirmation`).
CONFIRMED = "confirmed"  # the vendor says the contact is unsubscribed now
STILL_SUBSCRIBED = "still_subscribed"  # the vendor still lists the contact as subscribed
CONFIRM_UNKNOWN = "unknown"  # no usable answer: transient, retried later

# States of a delivery row.
PENDING = "pending"  # owed: the web process or a worker will (re)send it
DONE = "done"  # the vendor confirmed one of SUCCESSES
# FAILED (above) is also the state of a row that will not be retried by itself.
STATES = (PENDING, DONE, FAILED)


def overall(statuses):
    """The most serious of several outcomes (unsubscribed when there are none)."""
    present = set(statuses)
    return next((s for s in SEVERITY if s in present), UNSUBSCRIBED)


def is_success(status):
    """True when the person is (or already was) off the list."""
    return status in SUCCESSES
