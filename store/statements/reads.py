"""The operator's reads of deliveries (CLI, console, export), purge and the operator log."""

from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, select

from status import FAILED, PENDING
from store.models import DELIVERIES, OPERATOR_LOG, REQUESTS
from store.statements.base import A, D, JOINED, L, LIKE_ESCAPE, OWN, R, ids, prefix_pattern

# --- Reading deliveries: the operator's CLI, the console, the export ------------------------------------------

EVERY_COLUMN = tuple(DELIVERIES.c)
# Where each opt-out came from and the vendor's read-back of it (migration 0008), as every read shows them.
PROVENANCE = (D.channel, D.auth_method, D.received_at, D.confirm_due_at, D.confirmed_at, D.confirmation,
              D.confirmation_detail, D.confirmed_until)
LISTED = (D.id, D.created_at, D.destination, D.target, D.group_name, D.status, D.outcome, D.attempts,
          D.last_code, D.completed_at, *PROVENANCE)
ATTEMPT_FIELDS = (A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code, A.text, A.error_kind)
DELIVERY = select(*EVERY_COLUMN).where(D.id == bindparam("id"), OWN)
DELIVERY_BY_PREFIX = (select(*EVERY_COLUMN).where(D.id.like(bindparam("prefix"), escape=LIKE_ESCAPE), OWN)
                      .limit(2))
ATTEMPTS_OF = select(*ATTEMPT_FIELDS).where(A.delivery_id == bindparam("id")).order_by(A.number, A.id)
OF_REQUEST = (select(*EVERY_COLUMN).where(D.request_id == bindparam("request_id"), OWN)
              .order_by(D.item_index, D.destination))
REQUEST_LISTED = (select(*LISTED).where(D.request_id == bindparam("request_id"), OWN)
                  .order_by(D.item_index, D.destination))
STORED_REQUEST = select(R.id, R.idempotency_key, R.created_at, R.answer).where(R.id == bindparam("id"))
FAILED_IDS = {False: select(D.id).where(OWN, D.status == FAILED).order_by(D.id),
              True: select(D.id).where(OWN, D.status == FAILED, D.destination == bindparam("destination"))
              .order_by(D.id)}
# Whether this ledger sent an opt-out of one address (any case) to one destination since a time: a vendor's
# event about it is the relay's own call coming back (issue 20's echo guard); through ix_deliveries_target.
SENT_SINCE = (select(D.id).where(func.lower(D.target) == bindparam("address"),
                                 D.destination == bindparam("destination"), D.created_at >= bindparam("since"), OWN)
              .limit(1))
EXPORTED = (D.id, D.created_at, D.destination, D.target, D.group_name.label("group"), D.status, D.outcome,
            D.attempts, D.last_code, D.completed_at, D.channel, D.auth_method, D.received_at, D.confirmed_at,
            D.confirmation)
EXPORTED_ATTEMPTS = (select(A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code,
                            A.text).where(A.delivery_id.in_(ids())).order_by(A.delivery_id, A.number, A.id))


def deliveries(columns, filters):
    """A select of `columns` over this mode's deliveries (`mode` bound at execution) matching `filters`:
    address (exact, or a prefix with `prefix`; any case), status, destination, created in [since, until)."""
    query = select(*columns).where(OWN)
    if filters.get("address"):
        address, value = func.lower(D.target), filters["address"].strip().lower()
        query = query.where(address.like(prefix_pattern(value), escape=LIKE_ESCAPE)
                            if filters.get("prefix") else address == value)
    for name, column in (("status", D.status), ("destination", D.destination)):
        if filters.get(name):
            query = query.where(column == filters[name])
    if filters.get("since") is not None:
        query = query.where(D.created_at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(D.created_at < filters["until"])
    return query


def page(query, cursor, newer, limit):
    """One keyset page of a deliveries query, newest first (oldest first with `newer`): `cursor` is
    (created_at, id) of the row the page continues from; one row more than `limit` says there are more."""
    if cursor is not None:
        at, row_id = cursor
        if newer:
            query = query.where(or_(D.created_at > at, and_(D.created_at == at, D.id > row_id)))
        else:
            query = query.where(or_(D.created_at < at, and_(D.created_at == at, D.id < row_id)))
    order = (D.created_at.asc(), D.id.asc()) if newer else (D.created_at.desc(), D.id.desc())
    return query.order_by(*order).limit(limit + 1)


def exported(filters):
    """The audit export's deliveries, oldest first."""
    return deliveries(EXPORTED, filters).order_by(D.created_at, D.id)


# The console's aggregates, over this mode's deliveries accepted since :since.
COUNTS = (select(D.destination, D.status, D.outcome, func.count())
          .where(OWN, D.created_at >= bindparam("since")).group_by(D.destination, D.status, D.outcome))
_DAY = func.date(D.created_at)  # SQLite: a text day; PostgreSQL: a date
PER_DAY = select(_DAY, D.status, func.count()).where(OWN, D.created_at >= bindparam("since")).group_by(_DAY,
                                                                                                          D.status)
# Rows that need the operator or are being retried, grouped by destination, state, vendor code and kind.
FAILURE_GROUPS = (select(D.destination, D.status, D.last_code.label("code"), D.error_kind,
                         func.count().label("count"), func.max(D.updated_at).label("latest"),
                         func.max(D.last_text).label("text"))
                  .where(OWN, or_(D.status == FAILED, and_(D.status == PENDING, D.attempts > 0)))
                  .group_by(D.destination, D.status, D.last_code, D.error_kind)
                  .order_by(func.count().desc(), D.destination))
LAST_ATTEMPT_BY = select(func.max(A.started_at)).select_from(JOINED).where(OWN, A.sender == bindparam("sender"))

# --- Purge: finished deliveries (attempts go with them: ON DELETE CASCADE) and unused requests, in slices --

_FINISHED = (D.created_at < bindparam("cutoff"), D.status != PENDING)
_UNUSED = (R.created_at < bindparam("cutoff"), ~exists().where(D.request_id == R.id))
PURGE = {"deliveries": (select(D.id).where(*_FINISHED).limit(bindparam("slice")),
                        delete(DELIVERIES).where(D.id.in_(ids()), *_FINISHED)),
         "requests": (select(R.id).where(*_UNUSED).limit(bindparam("slice")),
                      delete(REQUESTS).where(R.id.in_(ids()), *_UNUSED))}

# --- Operator log ---------------------------------------------------------------------------------------------

LOG_ENTRY = insert(OPERATOR_LOG)
_LOG = select(L.id, L.at, L.action, L.subject, L.result).order_by(L.id.desc()).limit(bindparam("limit"))
LOG_PAGE = {False: _LOG, True: _LOG.where(L.id < bindparam("before"))}  # the newest, or before an entry
