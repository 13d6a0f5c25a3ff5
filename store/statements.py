"""The ledger's statements, built once: building and caching a SQL expression per call cost more than the
database's own work. The hot ones (every webhook runs them) are Prepared: run on the driver's cursor
(store/prepared.py).
"""

from sqlalchemy import bindparam, func, insert, or_, select, update

from status import DONE, PENDING
from store.models import ATTEMPTS, DELIVERIES, REQUESTS
from store.prepared import Prepared
from store.retry import RESULT_COLUMNS

D, R = DELIVERIES.c, REQUESTS.c

# Dedup candidates: the same address in any case (mailbox providers and ESPs treat addresses
# case-insensitively), destination and group, of this process's mode, newest first; the ledger compares what
# each asked the vendor (ledger.asks). Through the index on lower(target) (migration 0006): with
# `target = ?` in the query SQLite propagates that constant into lower(target), which then no longer
# matches the index, and reads the table instead.
DEDUP_CANDIDATES = 20  # rows read per look-up: more variants of one address within the window is abuse
_DEDUP = (select(D.id, D.target, D.status, D.outcome, D.last_code, D.payload).where(
    func.lower(D.target) == func.lower(bindparam("target")), D.destination == bindparam("destination"),
    or_(D.status == PENDING, D.status == DONE), D.created_at >= bindparam("since"),
    D.mode == bindparam("mode", "live")))
DEDUP_NO_GROUP = Prepared(_DEDUP.where(D.group_name.is_(None)).order_by(D.created_at.desc())
                          .limit(DEDUP_CANDIDATES))
DEDUP_GROUP = Prepared(_DEDUP.where(D.group_name == bindparam("group")).order_by(D.created_at.desc())
                       .limit(DEDUP_CANDIDATES))
INSERT_REQUEST, INSERT_DELIVERY, INSERT_ATTEMPT = insert(REQUESTS), insert(DELIVERIES), insert(ATTEMPTS)
ROW_COLUMNS = ("id", "request_id", "item_index", "idempotency_key", "destination", "target", "group_name",
               "campaign", "options", "payload", "status", "attempts", "created_at", "updated_at",
               "next_attempt_at", "retry_since", "lease_owner", "lease_until", "mode")
ATTEMPT_COLUMNS = ("delivery_id", "number", "started_at", "duration_ms", "sender", "outcome", "code", "text",
                   "error_kind")
# One row, one attempt (a webhook's usual case) on the driver's cursor (store/prepared.py); batches on Core.
INSERT_ONE_DELIVERY = Prepared(INSERT_DELIVERY, ROW_COLUMNS)
INSERT_ONE_ATTEMPT = Prepared(INSERT_ATTEMPT, ATTEMPT_COLUMNS)
KEY_STATE = select(R.id, R.fingerprint, R.answer, R.lease_until).where(R.idempotency_key == bindparam("key"))
SET_ANSWER = update(REQUESTS).where(R.id == bindparam("_id"))
# Only the holder of a live lease may store a result: a row whose lease ran out was taken over.
DUE = (select(D.id).where(D.status == PENDING, D.destination == bindparam("destination"),
                          D.mode == bindparam("mode"), D.next_attempt_at <= bindparam("now"),
                          or_(D.lease_until.is_(None), D.lease_until < bindparam("now")))
       .order_by(D.next_attempt_at).limit(bindparam("limit")).with_for_update(skip_locked=True))
SET_RESULT = Prepared(update(DELIVERIES).where(D.id == bindparam("_id"), D.lease_owner == bindparam("_owner"),
                                               D.status == PENDING), RESULT_COLUMNS)

