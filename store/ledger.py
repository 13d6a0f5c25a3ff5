"""Ledger commands: accept (rows written before any send; store/accepts.py), record (results and attempts),
claim and requeue (store/leases.py), read-backs (store/confirmations.py).

The statements are built once, in store/statements/; the ORM's unit of work, and SQL expressions rebuilt
per call, cost more than the database itself did per webhook. On PostgreSQL the records that meet in one
write transaction share one statement (_record_many).
"""

import hashlib
from dataclasses import dataclass

from store import gates as gate_rows
from store import hot
from store import statements as sql
from store.accepts import Accepts
from store.confirmations import Confirmations
from store.leases import Leases
from store.rows import LIVE, SANDBOX, KeyState, new_id, recordset  # noqa: F401 - re-exported

KEY_LENGTH = 300  # webhook_requests.idempotency_key


@dataclass(frozen=True)
class _Recorded:
    """One record() waiting for its batch (PostgreSQL): attempts, result changes, the lease owner they are
    guarded by, and the destinations whose gates they settle."""

    attempts: list
    changes: list
    owner: str
    settle: tuple


class Ledger(Accepts, Leases, Confirmations):
    """Write commands on the delivery ledger; `now()` is the store's (injectable) clock.

    `rate_wait`: how long a delivery sent at once may wait for its turn at the destination's rate before it
    is left to the worker instead. `mode` (live or sandbox) is written on every row; this ledger sees,
    dedups, claims and requeues only rows of its own mode, and keeps its own idempotency keys.

    Read-backs: an opt-out a vendor of `read_back` (the names of the destinations that can be read back)
    accepted is due for one `confirm_after` seconds later (0: never); a contact still subscribed is sent
    again up to `confirm_resends` times (store/confirmations.py)."""

    def __init__(self, writer, policy, gate_policy, now, dedup_window=600.0, rate_wait=0.0, mode=LIVE,
                 confirm_after=0.0, confirm_resends=2, read_back=frozenset()):
        self.writer, self.policy, self.gates, self.now = writer, policy, gate_policy, now
        self.dedup_window, self.rate_wait, self.mode = dedup_window, rate_wait, mode
        self.confirm_after, self.confirm_resends, self.read_back = confirm_after, confirm_resends, read_back
        self.one_statement = writer.postgres  # record() in one statement (sql.RECORD); SQLite has no DML CTEs

    def _key(self, key):
        """The idempotency key as stored: live keys as given (every row before modes was live), the
        sandbox's in a namespace of their own."""
        if not key or self.mode == LIVE:
            return key
        scoped = f"{self.mode}:{key}"
        if len(scoped) > KEY_LENGTH:
            scoped = f"{self.mode}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return scoped

    def key_state(self, key):
        """The KeyState of an idempotency key, or None when it is unseen."""
        with self.writer.reading() as conn:
            row = conn.execute(sql.KEY_STATE, {"key": self._key(key)}).first()
        return None if row is None else KeyState(*row)

    def record(self, pairs, owner, sender, answer=None):
        """Store every attempt of `pairs` ([(Delivery, Outcome)] sent by `sender`), the results on rows this
        owner still holds, and optionally a request's answer (request id, body), in one transaction; returns
        the row changes that applied."""
        now = self.now()
        changes = [{**self.policy.decide(o, d.attempts + 1, d.retry_since, now),
                    "confirm_due_at": self._confirm_due(o, now), "_id": d.id} for d, o in pairs]
        attempts = [{"delivery_id": d.id, "number": d.attempts + 1, "started_at": o.started_at,
                     "duration_ms": o.duration_ms, "sender": sender, "outcome": o.status,
                     "code": o.code, "text": o.message, "error_kind": o.error_kind}
                    for d, o in pairs]
        sent = [o for _, o in pairs]
        if not pairs and not answer:
            return []
        if self.one_statement:
            return self._record_batch(sent, owner, answer, changes, attempts, now)

        def work(conn):
            self._set_answer(conn, answer)
            if attempts:  # every attempt happened, whether or not this owner still holds the row
                hot.run(conn, sql.INSERT_ATTEMPT, attempts)
                self._observe(conn, sent, now)
            # One guarded UPDATE each; rowcount says whether the lease still held.
            return [c for c in changes if hot.run(conn, sql.SET_RESULT, {**c, "_owner": owner})]

        return self.writer.transaction(work)

    def _record_batch(self, sent, owner, answer, changes, attempts, now):
        """record() on PostgreSQL: the batch in one statement (sql.RECORD). When every result settles its
        gate and there is no answer to store, the records that meet in one write transaction share that
        statement, which is the whole transaction when they are all it holds (one round trip)."""
        settles = all(self.gates.settles(o) for o in sent)
        recorded = _Recorded(attempts, changes, owner, tuple(o.destination for o in sent) if settles else ())
        if settles and not answer:
            done = self.writer.together(self._record_many, recorded, one_statement=True)
        else:
            def work(conn):
                self._set_answer(conn, answer)
                if not settles:
                    self._observe(conn, sent, now)
                return self._record_many(conn, [recorded])[0]
            done = self.writer.transaction(work)
        return [c for c in changes if c["_id"] in done]

    @staticmethod
    def _record_many(conn, batch):
        """The attempts and results of every _Recorded in `batch`, and the gates they settle, in one
        statement; for each, the ids of its rows whose lease it still held (two owners may record the same
        row in one batch: the one whose lease was taken over is told so). Nothing but the statement may
        fail once it has run: in autocommit it is already committed (WriteEngine.together)."""
        attempts = [row for one in batch for row in one.attempts]
        changes = [{**change, "_owner": one.owner} for one in batch for change in one.changes]
        settle = sorted({name for one in batch for name in one.settle})
        statement, params = Ledger._batch(attempts, changes, settle)
        done = {(row["id"], row["owner"]) for row in hot.rows(conn, statement, params)}
        return [{row_id for row_id, owner in done if owner == one.owner} for one in batch]

    @staticmethod
    def _batch(attempts, changes, settle):
        """(sql.RECORD_ONE or sql.RECORD, its parameters): the attempts and the changes (in the same order,
        each change with its owner) as scalars for one row, a recordset for more."""
        sent = [{**{name: attempt[key] for name, key in sql.RECORD_ATTEMPT.items()},
                 **{name: change[key] for name, key in sql.RECORD_RESULT.items()},
                 "r_owner": change["_owner"]}
                for attempt, change in zip(attempts, changes, strict=True)]
        if len(sent) == 1:
            return sql.RECORD_ONE, {**sent[0], "settle": settle}
        return sql.RECORD, {"rows": recordset(sent), "settle": settle}

    @staticmethod
    def _set_answer(conn, answer):
        if answer:
            conn.execute(sql.SET_ANSWER, {"_id": answer[0], "answer": answer[1], "lease_until": None})

    def _observe(self, conn, sent, now):
        """Every Outcome in `sent` moves its destination's breaker (consecutive failures, open, close)."""
        if all(self.gates.settles(o) for o in sent):  # the common case: one guarded UPDATE
            gate_rows.settle(conn, [o.destination for o in sent])
            return
        gates = gate_rows.load(conn, {o.destination for o in sent})
        before = gate_rows.snapshot(gates)
        for o in sent:
            self.gates.observe(gates[o.destination], o, now)
        gate_rows.save(conn, gates, before)
