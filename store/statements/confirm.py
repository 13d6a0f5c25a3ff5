"""Read-backs (is an accepted opt-out in effect at the vendor?) and one person's proof."""

from sqlalchemy import bindparam, func, select, update

from status import DONE
from store.models import DELIVERIES
from store.statements.base import A, D, UNLEASED, ids

# Done rows of one destination and mode whose read-back is due, through the partial index on
# confirm_due_at (migration 0008); SKIP LOCKED keeps two claimers apart, the lease afterwards too.
CONFIRM_DUE = (select(D.id).where(D.confirm_due_at <= bindparam("now"), D.status == DONE,
                                  D.destination == bindparam("destination"), D.mode == bindparam("mode"), UNLEASED)
               .order_by(D.confirm_due_at).limit(bindparam("limit")).with_for_update(skip_locked=True))
# Whether any read-back is due at these destinations: a plain read through the same index, so an idle
# worker's poll takes no write transaction and locks no gate when none is.
CONFIRM_ANY_DUE = select(D.id).where(D.confirm_due_at <= bindparam("now"), D.status == DONE,
                                     D.destination.in_(ids("destinations")), D.mode == bindparam("mode"),
                                     UNLEASED).limit(1)
# What deciding a read-back's result needs of the rows this owner still holds.
CONFIRMING = select(D.id, D.destination, D.confirm_attempts, D.completed_at).where(
    D.id.in_(ids()), D.lease_owner == bindparam("owner"), D.status == DONE)
# Only the holder of the read-back's lease stores its result; the values are given with each call.
SET_CONFIRMATION = update(DELIVERIES).where(D.id == bindparam("_id"), D.lease_owner == bindparam("_owner"),
                                            D.status == DONE)

# Every delivery of one address (any case) in one mode, oldest first, with where it came from and what the
# vendor confirmed; through the index on lower(target) (migration 0006).
PROVED = (D.id, D.request_id, D.item_index, D.mode, D.destination, D.target, D.group_name,
          D.group_name.label("group"), D.campaign, D.options, D.channel, D.auth_method, D.received_at,
          D.created_at, D.completed_at, D.status, D.outcome, D.last_code, D.attempts, D.confirm_due_at,
          D.confirm_attempts, D.confirmed_at, D.confirmation, D.confirmation_detail, D.confirmed_until)
PROOF = (select(*PROVED).where(func.lower(D.target) == bindparam("address"), D.mode == bindparam("mode"))
         .order_by(D.created_at, D.id))
PROOF_ATTEMPTS = (select(A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code, A.text,
                         A.error_kind).where(A.delivery_id.in_(ids())).order_by(A.delivery_id, A.number, A.id))
