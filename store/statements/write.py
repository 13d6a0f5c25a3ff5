"""The senders' statements: locks, accept (key, dedup, gate, insert), record (attempt, gate, result),
claim, release, replay, backlog."""

from sqlalchemy import (JSON, Integer, String, any_, bindparam, column, func, insert, or_, select, text, true,
                        update)
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from status import DONE, FAILED, PENDING
from store.breaker import OPEN, SETTLED
from store.models import ATTEMPTS, DELIVERIES, GATES, REQUESTS
from store.retry import RESULT_COLUMNS
from store.statements.base import A, D, G, R, UNLEASED, by_dialect, ids

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
# PostgreSQL: the look-ups of a whole batch of accepts in one statement, each asked row (`q`, its index in
# the parallel arrays) joined laterally to its own newest candidates, through the same index.
_ASKED = (func.unnest(bindparam("q", type_=ARRAY(Integer)), bindparam("targets", type_=ARRAY(String)),
                      bindparam("destinations", type_=ARRAY(String)), bindparam("groups", type_=ARRAY(String)),
                      bindparam("sinces", type_=ARRAY(D.created_at.type)))
          .table_valued(column("q", Integer), column("target", String), column("destination", String),
                        column("group_name", String), column("since", D.created_at.type))
          .render_derived(name="asked"))
_CANDIDATES = (select(D.id, D.target, D.status, D.outcome, D.last_code, D.payload, D.created_at).where(
    func.lower(D.target) == func.lower(_ASKED.c.target), D.destination == _ASKED.c.destination,
    D.group_name.is_not_distinct_from(_ASKED.c.group_name), or_(D.status == PENDING, D.status == DONE),
    D.created_at >= _ASKED.c.since, D.mode == bindparam("mode"))
    .order_by(D.created_at.desc()).limit(DEDUP_CANDIDATES).lateral("candidate"))
DEDUP_MANY = (select(_ASKED.c.q, *(c for c in _CANDIDATES.c if c.key != "created_at"))
              .select_from(_ASKED.join(_CANDIDATES, true()))
              .order_by(_ASKED.c.q, _CANDIDATES.c.created_at.desc()))


def recordset(name, columns):
    """PostgreSQL: a FROM of the rows given as one JSON parameter `rows` (a list of objects; datetimes as ISO
    text), typed as `columns` {name: type}. A batch is one parameter: psycopg dumps an array parameter
    element by element in Python, which for a batch's twenty columns cost more than the statement."""
    return (func.json_to_recordset(bindparam("rows", type_=JSON))
            .table_valued(*(column(key, type_) for key, type_ in columns.items()))
            .render_derived(name=name, with_types=True))


# PostgreSQL: a batch's new rows in one INSERT (an executemany is a statement per row on the server); the
# columns are those a new row is given (ledger._row), the others take their server defaults or none.
NEW_DELIVERY = ("id", "request_id", "item_index", "idempotency_key", "destination", "target", "group_name",
                "campaign", "options", "payload", "status", "attempts", "created_at", "updated_at",
                "next_attempt_at", "retry_since", "lease_owner", "lease_until", "mode", "channel",
                "auth_method", "received_at")
_NEW = recordset("new", {name: D[name].type for name in NEW_DELIVERY})
INSERT_DELIVERIES = (insert(DELIVERIES)
                     .from_select(NEW_DELIVERY, select(*(_NEW.c[name] for name in NEW_DELIVERY)),
                                  include_defaults=False)
                     .returning(D.id))
INSERT_REQUEST, INSERT_DELIVERY, INSERT_ATTEMPT = insert(REQUESTS), insert(DELIVERIES), insert(ATTEMPTS)
KEY_STATE = select(R.id, R.fingerprint, R.answer, R.lease_until).where(R.idempotency_key == bindparam("key"))
SET_ANSWER = update(REQUESTS).where(R.id == bindparam("_id"))
# Only the holder of a live lease may store a result: a row whose lease ran out was taken over. The values
# are those of RECORDED (retry.RESULT_COLUMNS and when a read-back is due), given with each call.
SET_RESULT = update(DELIVERIES).where(D.id == bindparam("_id"), D.lease_owner == bindparam("_owner"),
                                      D.status == PENDING)

# --- Gates (one row per destination; policy in breaker.py) --------------------------------------------------

GATE = select(GATES).where(G.destination == bindparam("name"))
GATE_LOCKED = GATE.with_for_update()
GATE_CREATE = by_dialect(lambda make: make(GATES).on_conflict_do_nothing())  # executemany of fresh gates
GATE_SAVE = update(GATES).where(G.destination == bindparam("_name"))  # the changed columns as values
# Only a gate that is not already settled is written (and, on PostgreSQL, locked).
_UNSETTLED = or_(*(G[k] != v for k, v in SETTLED.items() if v is not None),
                 *(G[k].is_not(None) for k, v in SETTLED.items() if v is None))
GATE_SETTLE = update(GATES).where(G.destination == bindparam("name"), _UNSETTLED).values(**SETTLED)
ALL_GATES = select(GATES).order_by(G.destination)
# An operator's replay means now: the open breakers of the replayed rows' destinations may probe at once.
PROBE_NOW = (update(GATES).where(G.destination.in_(ids("destinations")), G.state == OPEN)
             .values(next_probe_at=bindparam("now")))
# PostgreSQL records in one statement, atomic as the transaction of three it replaced: attempts, settled gates
# and guarded results (`results`: the ids whose lease held, with the owner that held it) as data-modifying
# CTEs over one row of scalars, or a batch as a JSON recordset (one shape for any size). Each result carries
# the lease owner it is guarded by (`r_owner`): the records of several requests share one statement.
# Parameters are named apart from the columns: SQLAlchemy adds a column's namesake to an UPDATE's SET.
_ATTEMPT = {f"a_{col.name}": col for col in (A.delivery_id, A.number, A.started_at, A.duration_ms, A.sender,
                                             A.outcome, A.code, A.text, A.error_kind)}
RECORDED = (*RESULT_COLUMNS, "confirm_due_at")  # what a result sets on its row
_SENT = {**_ATTEMPT, **{f"r_{name}": D[name] for name in RECORDED}, "r_owner": D.lease_owner}  # owner: the guard
RECORD_ATTEMPT = {name: col.name for name, col in _ATTEMPT.items()}  # parameter: key of the attempt's row
RECORD_RESULT = {f"r_{name}": name for name in RECORDED}  # parameter: key of the result's change
# The gates to settle are locked in the destinations' order first (as gates.load takes them), so a batch that
# settles several never waits crosswise on another transaction taking the same gates.
_SETTLED = update(GATES).where(G.destination.in_(
    select(G.destination).where(G.destination == any_(bindparam("settle", type_=ARRAY(String))), _UNSETTLED)
    .order_by(G.destination).with_for_update()))


def _record(batch):
    attempted = insert(ATTEMPTS).from_select(list(_ATTEMPT.values()), select(*(batch.c[name] for name in _ATTEMPT)))
    results = (update(DELIVERIES).where(D.id == batch.c.a_delivery_id, D.lease_owner == batch.c.r_owner,
                                        D.status == PENDING)
               .values(**{key: batch.c[name] for name, key in RECORD_RESULT.items()})
               .returning(D.id, batch.c.r_owner.label("owner")).cte("results"))
    return (select(results.c.id, results.c.owner)
            .add_cte(attempted.cte("attempted"), _SETTLED.values(**SETTLED).cte("settled")))


RECORD_ONE = _record(select(*(bindparam(name, type_=col.type).label(name) for name, col in _SENT.items()))
                     .cte("batch"))
RECORD = _record(select(recordset("sent", {name: col.type for name, col in _SENT.items()})).cte("batch"))


# --- Worker: claim, release, replay ---------------------------------------------------------------------------

DUE = (select(D.id).where(D.status == PENDING, D.destination == bindparam("destination"),
                          D.mode == bindparam("mode"), D.next_attempt_at <= bindparam("now"), UNLEASED)
       .order_by(D.next_attempt_at).limit(bindparam("limit")).with_for_update(skip_locked=True))
# An UPDATE's parameters are named apart from its columns (SQLAlchemy reserves the columns' own names).
LEASE = (update(DELIVERIES).where(D.id.in_(ids()))
         .values(lease_owner=bindparam("owner"), lease_until=bindparam("until")))
LEASED = (select(D.id, D.item_index, D.destination, D.target, D.group_name, D.campaign, D.options, D.payload,
                 D.status, D.attempts, D.retry_since).where(D.id.in_(ids()), D.lease_owner == bindparam("owner")))
WAITING = select(func.count()).select_from(DELIVERIES).where(
    D.status == PENDING, D.next_attempt_at <= bindparam("now"), D.destination.in_(ids("destinations")),
    D.destination.in_(select(G.destination).where(G.state != OPEN)), UNLEASED, D.mode == bindparam("mode"))
RELEASE = (update(DELIVERIES).where(D.lease_owner == bindparam("owner"), D.status == PENDING)
           .values(lease_owner=None, lease_until=None))
_AGAIN = dict(status=PENDING, outcome=None, next_attempt_at=bindparam("now"), retry_since=bindparam("now"),
              completed_at=None, updated_at=bindparam("now"))
# Replay: by ids, or every failed row; the rows' destinations first (their open breakers may probe now).
_REPLAYED = {False: D.id.in_(ids()), True: D.status == FAILED}
REQUEUE = {failed: update(DELIVERIES).where(which, D.mode == bindparam("_mode"))
           .values(**_AGAIN, lease_owner=None, lease_until=None) for failed, which in _REPLAYED.items()}
REQUEUED_DESTINATIONS = {failed: select(D.destination).where(which, D.mode == bindparam("_mode")).distinct()
                         for failed, which in _REPLAYED.items()}
LEASE_AGAIN = (update(DELIVERIES).where(D.id.in_(ids()), D.mode == bindparam("_mode"),
                                        D.destination.in_(ids("destinations")), UNLEASED)
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
    D.destination.not_in(select(G.destination).where(G.state == OPEN)), UNLEASED)
