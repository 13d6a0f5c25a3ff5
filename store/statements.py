"""Every statement the ledger runs, by name, built once (after procrastinate's queries.sql): the one place
to read what the store asks the database. The store's other modules say when and with what values; no
module but this one builds SQL. Statements are SQLAlchemy Core, run through `Connection.execute` (its
compiled cache makes a statement built once compile once per dialect). Where a query's shape depends on
optional filters, a function here builds it from these same pieces.

Dialect-specific upserts are kept by dialect name: `ON CONFLICT` is spelled by each dialect's own `insert`.
"""

from sqlalchemy import String, and_, any_, bindparam, column, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from status import DONE, FAILED, PENDING, SUCCESSES
from store.breaker import OPEN, SETTLED
from store.models import (ALERTS, ATTEMPTS, CONSOLE_SESSIONS, DELIVERIES, GATES, HEARTBEATS, LOGIN_FAILURES,
                          OPERATOR_LOG, REQUESTS)
from store.retry import RESULT_COLUMNS

D, A, R, G = DELIVERIES.c, ATTEMPTS.c, REQUESTS.c, GATES.c
H, AL, L, S, F = HEARTBEATS.c, ALERTS.c, OPERATOR_LOG.c, CONSOLE_SESSIONS.c, LOGIN_FAILURES.c
DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
LIKE_ESCAPE = "\\"


def _ids(name="ids"):
    return bindparam(name, expanding=True)


def by_dialect(build):
    """{dialect name: build(that dialect's insert)}: for the upserts."""
    return {name: build(make) for name, make in DIALECT_INSERTS.items()}


def prefix_pattern(value):
    """A LIKE pattern matching `value` at the start, its own %, _ and \\ taken literally."""
    escaped = value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# Locks and migrations (PostgreSQL): transaction-scoped advisory locks, taken in one sorted order so two
# transactions never deadlock; one key for every process that migrates this database.
ADVISORY_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(:keys) AS k ORDER BY 1) AS s") \
    .bindparams(bindparam("keys", type_=ARRAY(BIGINT)))
MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# The same locks and the named gates as last committed, unlocked (a peek: a gate is locked FOR UPDATE only
# when its policy needs the latest row); the count yields one row, so the locks are taken in any case.
LOCKS_AND_GATES = text("SELECT g.* FROM (SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(:keys) AS k "
                       "ORDER BY 1) AS s) AS l LEFT JOIN destination_gates AS g ON g.destination = ANY(:names)") \
    .bindparams(bindparam("keys", type_=ARRAY(BIGINT)), bindparam("names", type_=ARRAY(String))) \
    .columns(*GATES.c)

# --- The hot path: accept (key, dedup, gate, insert) and record (attempt, gate, result) ---------------------

# Dedup candidates: the same address in any case (mailbox providers and ESPs treat addresses
# case-insensitively), destination and group, of this process's mode, newest first; the ledger compares what
# each asked the vendor (rows.asks). Through the index on lower(target) (migration 0006): with
# `target = ?` in the query SQLite propagates that constant into lower(target), which then no longer
# matches the index, and reads the table instead.
DEDUP_CANDIDATES = 20  # rows read per look-up: more variants of one address within the window is abuse
_DEDUP = (select(D.id, D.target, D.status, D.outcome, D.last_code, D.payload).where(
    func.lower(D.target) == func.lower(bindparam("target")), D.destination == bindparam("destination"),
    or_(D.status == PENDING, D.status == DONE), D.created_at >= bindparam("since"), D.mode == bindparam("mode")))
DEDUP_NO_GROUP = _DEDUP.where(D.group_name.is_(None)).order_by(D.created_at.desc()).limit(DEDUP_CANDIDATES)
DEDUP_GROUP = (_DEDUP.where(D.group_name == bindparam("group")).order_by(D.created_at.desc())
               .limit(DEDUP_CANDIDATES))
INSERT_REQUEST, INSERT_DELIVERY, INSERT_ATTEMPT = insert(REQUESTS), insert(DELIVERIES), insert(ATTEMPTS)
KEY_STATE = select(R.id, R.fingerprint, R.answer, R.lease_until).where(R.idempotency_key == bindparam("key"))
SET_ANSWER = update(REQUESTS).where(R.id == bindparam("_id"))
# Only the holder of a live lease may store a result: a row whose lease ran out was taken over. The values
# are those of retry.RESULT_COLUMNS, given with each call.
SET_RESULT = update(DELIVERIES).where(D.id == bindparam("_id"), D.lease_owner == bindparam("_owner"),
                                      D.status == PENDING)

# --- Gates (one row per destination; policy in breaker.py) --------------------------------------------------

GATE = select(GATES).where(G.destination == bindparam("name"))
GATE_LOCKED = GATE.with_for_update()
GATE_CREATE = by_dialect(lambda make: make(GATES).on_conflict_do_nothing())  # executemany of fresh gates
GATE_SAVE = update(GATES).where(G.destination == bindparam("_name"))  # the changed columns as values
_UNSETTLED = or_(*(G[k] != v for k, v in SETTLED.items() if v is not None),
                 *(G[k].is_not(None) for k, v in SETTLED.items() if v is None))
GATE_SETTLE = update(GATES).where(G.destination == bindparam("name"), _UNSETTLED).values(**SETTLED)  # if unsettled
ALL_GATES = select(GATES).order_by(G.destination)
PROBE_NOW = (update(GATES).where(G.destination.in_(_ids("destinations")), G.state == OPEN)  # replayed by hand
             .values(next_probe_at=bindparam("now")))
# PostgreSQL records in one statement, atomic as the transaction of three it replaced: attempts, settled gates
# and guarded results (`results`: the ids whose lease held) as data-modifying CTEs over one row of scalars, or
# a batch as parallel arrays (one shape for any size; arrays cost the driver more). Parameters are named apart
# from the columns: SQLAlchemy adds a column's namesake to an UPDATE's SET.
_ATTEMPT = {f"a_{col.name}": col for col in (A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender,
                                             A.outcome, A.code, A.text, A.error_kind)}
_SENT = {**_ATTEMPT, **{f"r_{name}": D[name] for name in RESULT_COLUMNS}}
RECORD_ATTEMPT = {name: col.name for name, col in _ATTEMPT.items()}  # parameter: key of the attempt's row
RECORD_RESULT = {f"r_{name}": name for name in RESULT_COLUMNS}  # parameter: key of the result's change
_SETTLED = update(GATES).where(G.destination == any_(bindparam("settle", type_=ARRAY(String))), _UNSETTLED)


def _record(batch):
    attempted = insert(ATTEMPTS).from_select(list(_ATTEMPT.values()), select(*(batch.c[name] for name in _ATTEMPT)))
    results = (update(DELIVERIES).where(D.id == batch.c.a_delivery_id, D.lease_owner == bindparam("_owner"),
                                        D.status == PENDING)
               .values(**{key: batch.c[name] for name, key in RECORD_RESULT.items()}).returning(D.id).cte("results"))
    return select(results.c.id).add_cte(attempted.cte("attempted"), _SETTLED.values(**SETTLED).cte("settled"))


RECORD_ONE = _record(select(*(bindparam(name, type_=col.type).label(name) for name, col in _SENT.items()))
                     .cte("batch"))
RECORD = _record(select(func.unnest(*(bindparam(name, type_=ARRAY(col.type)) for name, col in _SENT.items()))
                        .table_valued(*(column(name, col.type) for name, col in _SENT.items()))
                        .render_derived(name="sent")).cte("batch"))


# --- Worker: claim, release, replay ---------------------------------------------------------------------------

_UNLEASED = or_(D.lease_until.is_(None), D.lease_until < bindparam("now"))
DUE = (select(D.id).where(D.status == PENDING, D.destination == bindparam("destination"),
                          D.mode == bindparam("mode"), D.next_attempt_at <= bindparam("now"), _UNLEASED)
       .order_by(D.next_attempt_at).limit(bindparam("limit")).with_for_update(skip_locked=True))
# An UPDATE's parameters are named apart from its columns (SQLAlchemy reserves the columns' own names).
LEASE = (update(DELIVERIES).where(D.id.in_(_ids()))
         .values(lease_owner=bindparam("owner"), lease_until=bindparam("until")))
LEASED = (select(D.id, D.destination, D.payload, D.attempts, D.retry_since)
          .where(D.id.in_(_ids()), D.lease_owner == bindparam("owner")))
WAITING = select(func.count()).select_from(DELIVERIES).where(
    D.status == PENDING, D.next_attempt_at <= bindparam("now"), D.destination.in_(_ids("destinations")),
    D.destination.in_(select(G.destination).where(G.state != OPEN)), _UNLEASED, D.mode == bindparam("mode"))
RELEASE = (update(DELIVERIES).where(D.lease_owner == bindparam("owner"), D.status == PENDING)
           .values(lease_owner=None, lease_until=None))
_AGAIN = dict(status=PENDING, outcome=None, next_attempt_at=bindparam("now"), retry_since=bindparam("now"),
              completed_at=None, updated_at=bindparam("now"))
# Replay: by ids, or every failed row; the rows' destinations first (their open breakers may probe now).
_REPLAYED = {False: D.id.in_(_ids()), True: D.status == FAILED}
REQUEUE = {failed: update(DELIVERIES).where(which, D.mode == bindparam("_mode"))
           .values(**_AGAIN, lease_owner=None, lease_until=None) for failed, which in _REPLAYED.items()}
REQUEUED_DESTINATIONS = {failed: select(D.destination).where(which, D.mode == bindparam("_mode")).distinct()
                         for failed, which in _REPLAYED.items()}
LEASE_AGAIN = (update(DELIVERIES).where(D.id.in_(_ids()), D.mode == bindparam("_mode"),
                                        D.destination.in_(_ids("destinations")), _UNLEASED)
               .values(**_AGAIN, lease_owner=bindparam("owner"), lease_until=bindparam("until")))
# The console's "Replay now": only while the row has the attempts the operator saw (a double click, or two
# operators at once, send it once).
LEASE_AGAIN_SEEN = LEASE_AGAIN.where(D.attempts == bindparam("seen"))

# --- Backlog: written once, read by /readyz, the metrics, the console and the alerts ------------------------

BACKLOG = select(func.count(), func.min(D.created_at)).where(D.status == PENDING, D.mode == bindparam("mode"))
OTHER_MODE_PENDING = (select(func.count()).select_from(DELIVERIES)
                      .where(D.status == PENDING, D.mode != bindparam("mode")))
# Pending rows due before `due_before`, unleased, at a destination whose breaker is not open (a live worker
# would have claimed them): the worker-silent alert.
OVERDUE = select(func.count(), func.min(D.next_attempt_at)).where(
    D.status == PENDING, D.next_attempt_at <= bindparam("due_before"), D.mode == bindparam("mode"),
    D.destination.not_in(select(G.destination).where(G.state == OPEN)), _UNLEASED)

# --- Reading deliveries: the operator's CLI, the console, the export ------------------------------------------

EVERY_COLUMN = tuple(DELIVERIES.c)
LISTED = (D.id, D.created_at, D.destination, D.target, D.group_name, D.status, D.outcome, D.attempts,
          D.last_code, D.completed_at)
ATTEMPT_FIELDS = (A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code, A.text, A.error_kind)
_OWN = D.mode == bindparam("mode")
DELIVERY = select(*EVERY_COLUMN).where(D.id == bindparam("id"), _OWN)
DELIVERY_BY_PREFIX = (select(*EVERY_COLUMN).where(D.id.like(bindparam("prefix"), escape=LIKE_ESCAPE), _OWN)
                      .limit(2))
ATTEMPTS_OF = select(*ATTEMPT_FIELDS).where(A.delivery_id == bindparam("id")).order_by(A.number, A.id)
OF_REQUEST = (select(*EVERY_COLUMN).where(D.request_id == bindparam("request_id"), _OWN)
              .order_by(D.item_index, D.destination))
REQUEST_LISTED = (select(*LISTED).where(D.request_id == bindparam("request_id"), _OWN)
                  .order_by(D.item_index, D.destination))
STORED_REQUEST = select(R.id, R.idempotency_key, R.created_at, R.answer).where(R.id == bindparam("id"))
FAILED_IDS = {False: select(D.id).where(_OWN, D.status == FAILED).order_by(D.id),
              True: select(D.id).where(_OWN, D.status == FAILED, D.destination == bindparam("destination"))
              .order_by(D.id)}
EXPORTED = (D.id, D.created_at, D.destination, D.target, D.group_name.label("group"), D.status, D.outcome,
            D.attempts, D.last_code, D.completed_at)
EXPORTED_ATTEMPTS = (select(A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender, A.outcome, A.code,
                            A.text).where(A.delivery_id.in_(_ids())).order_by(A.delivery_id, A.number, A.id))


def deliveries(columns, filters):
    """A select of `columns` over this mode's deliveries (`mode` bound at execution) matching `filters`:
    address (exact, or a prefix with `prefix`; any case), status, destination, created in [since, until)."""
    query = select(*columns).where(_OWN)
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
          .where(_OWN, D.created_at >= bindparam("since")).group_by(D.destination, D.status, D.outcome))
_DAY = func.date(D.created_at)  # SQLite: a text day; PostgreSQL: a date
PER_DAY = select(_DAY, D.status, func.count()).where(_OWN, D.created_at >= bindparam("since")).group_by(_DAY,
                                                                                                          D.status)
# Rows that need the operator or are being retried, grouped by destination, state, vendor code and kind.
FAILURE_GROUPS = (select(D.destination, D.status, D.last_code.label("code"), D.error_kind,
                         func.count().label("count"), func.max(D.updated_at).label("latest"),
                         func.max(D.last_text).label("text"))
                  .where(_OWN, or_(D.status == FAILED, and_(D.status == PENDING, D.attempts > 0)))
                  .group_by(D.destination, D.status, D.last_code, D.error_kind)
                  .order_by(func.count().desc(), D.destination))
_JOINED = ATTEMPTS.join(DELIVERIES, A.delivery_id == D.id)
LAST_ATTEMPT_BY = select(func.max(A.started_at)).select_from(_JOINED).where(_OWN, A.sender == bindparam("sender"))

# --- Purge: finished deliveries (attempts go with them: ON DELETE CASCADE) and unused requests, in slices --

_FINISHED = (D.created_at < bindparam("cutoff"), D.status != PENDING)
_UNUSED = (R.created_at < bindparam("cutoff"), ~exists().where(D.request_id == R.id))
PURGE = {"deliveries": (select(D.id).where(*_FINISHED).limit(bindparam("slice")),
                        delete(DELIVERIES).where(D.id.in_(_ids()), *_FINISHED)),
         "requests": (select(R.id).where(*_UNUSED).limit(bindparam("slice")),
                      delete(REQUESTS).where(R.id.in_(_ids()), *_UNUSED))}

# --- Operator log ---------------------------------------------------------------------------------------------

LOG_ENTRY = insert(OPERATOR_LOG)
_LOG = select(L.id, L.at, L.action, L.subject, L.result).order_by(L.id.desc()).limit(bindparam("limit"))
LOG_PAGE = {False: _LOG, True: _LOG.where(L.id < bindparam("before"))}  # the newest, or before an entry

# --- Worker heartbeats and alert records ----------------------------------------------------------------------

def _beat(make):
    """Insert a worker's heartbeat, or refresh all but its start time."""
    new = make(HEARTBEATS)
    seen = ("host", "pid", "seen_at", "last_claim_at", "stopped_at", "mode")
    return new.on_conflict_do_update(index_elements=[H.worker_id], set_={name: new.excluded[name] for name in seen})


BEAT = by_dialect(_beat)
FORGET_WORKERS = delete(HEARTBEATS).where(H.seen_at < bindparam("before"))
STOPPED = (update(HEARTBEATS).where(H.worker_id == bindparam("worker"))
           .values(stopped_at=bindparam("now"), seen_at=bindparam("now")))
WORKER_SEEN = select(func.max(H.seen_at).label("seen_at"), func.max(H.last_claim_at).label("last_claim_at"),
                     func.count().filter(H.stopped_at.is_(None), H.seen_at >= bindparam("recent"))
                     .label("running")).where(H.mode == bindparam("mode"))
TAKE_ALERT = by_dialect(lambda make: make(ALERTS).on_conflict_do_nothing().returning(AL.key))
LAST_ALERT = (select(AL.key, AL.kind, AL.count, AL.created_at)
              .where(AL.subject == bindparam("subject"), AL.kind.in_(_ids("kinds")))
              .order_by(AL.created_at.desc(), AL.key.desc()).limit(1))
_ENDED = (select(func.max(AL.created_at)).where(AL.subject == bindparam("subject"), AL.kind == bindparam("ended_by"))
          .scalar_subquery())
EPISODE_START = select(func.min(AL.created_at)).where(AL.subject == bindparam("subject"),
                                                      AL.kind == bindparam("kind"),
                                                      (AL.created_at > _ENDED) | _ENDED.is_(None))
PRUNE_ALERTS = delete(ALERTS).where(AL.created_at < bindparam("before"))
_FAILED_FOR = (D.status == FAILED, D.destination == bindparam("destination"), D.error_kind == bindparam("kind"),
               D.completed_at > bindparam("since"), D.completed_at <= bindparam("until"))
FAILED_FOR = select(func.count(), func.min(D.completed_at), func.max(D.completed_at)).where(*_FAILED_FOR)
FAILED_EXAMPLES = (select(D.id, D.target, D.last_code, D.last_text, D.completed_at).where(*_FAILED_FOR)
                   .order_by(D.completed_at, D.id).limit(bindparam("examples")))
LAST_ATTEMPT_OF = (select(func.max(A.started_at)).select_from(_JOINED)
                   .where(D.destination == bindparam("destination")))
LAST_FAILURE_OF_KINDS = LAST_ATTEMPT_OF.where(A.error_kind.in_(_ids("kinds")))
LAST_SUCCESS = LAST_ATTEMPT_OF.where(A.outcome.in_(SUCCESSES))
GATE_STATES = select(G.destination, G.state, G.opened_at, G.reason)

# --- Console sessions and login failures ----------------------------------------------------------------------

FORGET_SESSIONS = delete(CONSOLE_SESSIONS).where(or_(S.ended_at.is_not(None), S.expires_at <= bindparam("now")))
START_SESSION = insert(CONSOLE_SESSIONS)
LIVE_SESSION = select(S.search_address).where(S.id == bindparam("id"), S.ended_at.is_(None),
                                              S.expires_at > bindparam("now"))
REMEMBER_SEARCH = (update(CONSOLE_SESSIONS).where(S.id == bindparam("_id"))
                   .values(search_address=bindparam("address")))
END_SESSION = (update(CONSOLE_SESSIONS).where(S.id == bindparam("_id"), S.ended_at.is_(None))
               .values(ended_at=bindparam("now"), search_address=None))
FORGET_QUIET_CLIENTS = delete(LOGIN_FAILURES).where(
    F.last_at < bindparam("quiet_since"), or_(F.locked_until.is_(None), F.locked_until <= bindparam("now")))
NEW_CLIENT = by_dialect(lambda make: make(LOGIN_FAILURES).on_conflict_do_nothing())
CLIENT_LOCKED = select(F.failures, F.locked_until).where(F.client == bindparam("client")).with_for_update()
COUNT_FAILURE = update(LOGIN_FAILURES).where(F.client == bindparam("_client"))
FORGET_CLIENT = delete(LOGIN_FAILURES).where(F.client == bindparam("client"))
