"""Ledger commands: accept (rows written before any send), record (results and attempts), claim, requeue.

The statements are built once, in store/statements.py; the ORM's unit of work, and SQL expressions rebuilt
per call, cost more than the database itself did per webhook.
"""

import hashlib
from collections import Counter
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from status import NOT_SUBSCRIBED, PENDING
from store import gates as gate_rows
from store import hot
from store import statements as sql
from store.engine import lock_key
from store.confirmations import Confirmations
from store.leases import Leases
from store.rows import LIVE, SANDBOX, KeyState, asks, new_id  # noqa: F401 - re-exported

KEY_LENGTH = 300  # webhook_requests.idempotency_key


def answers_spelling(row, target):
    """Whether an earlier row may answer this spelling of its address: a vendor that said "not found" for
    Jane.Doe@ was not asked about jane.doe@ (it may match case-sensitively), so only the same spelling."""
    return row["target"] == target or row["outcome"] != NOT_SUBSCRIBED


class Ledger(Leases, Confirmations):
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

    def accept(self, deliveries, key=None, fingerprint=None, lease_owner=None, dedup=True, dedup_window=None):
        """Write a request and its delivery rows in one transaction, before anything is sent.

        Returns (request id, [Delivery placed]): each of `deliveries` with its row's id, whether the row is
        new, and that row's state; or the KeyState when the idempotency key was taken meanwhile. A delivery
        within the dedup window gets the earlier row and no new one; on PostgreSQL an advisory lock per
        target and destination makes that decision hold across processes. With a `lease_owner` (the caller
        sends at once) each destination's gate admits the new rows: those it holds back (breaker open, over
        the rate) are left to the worker, with the reason in `hold`.
        """
        now, request_id, key = self.now(), new_id(), self._key(key)
        lease_until = self._lease_until(now)
        window = self.dedup_window if dedup_window is None else dedup_window
        window = window if dedup else 0

        locks = [lock_key(d.destination, d.target.lower()) for d in deliveries] if window > 0 else []
        # PostgreSQL, sending at once: the dedup locks and a peek at the gates in one statement.
        peek = bool(lease_owner) and self.writer.postgres

        def work(conn):
            peeked = gate_rows.peek(conn, locks, [d.destination for d in deliveries]) if peek else None
            if key:
                taken = self._take_key(conn, key, request_id, fingerprint, now, lease_until)
                if taken is not None:
                    return taken
            placed = self._placed(conn, deliveries, now, window)
            if lease_owner:
                placed = self._admit(conn, placed, now, peeked)
            rows = [self._row(p, request_id, key, now, lease_until, lease_owner) for p in placed if p.is_new]
            if rows:
                hot.run(conn, sql.INSERT_DELIVERY, rows)
            return request_id, placed

        return self.writer.transaction(work, locks, locks_in_work=peek)

    def _placed(self, conn, deliveries, now, window):
        """Each delivery placed: the dedup window's earlier row, or a new one (those asking the same share
        it)."""
        placed, seen = [], {}
        for delivery in deliveries:
            same = (delivery.destination, asks(delivery.payload, delivery.target))
            if window > 0 and same in seen:
                placed.append(replace(delivery, **self._same_row(seen[same]), is_new=False))
                continue
            placed.append(self._place(conn, delivery, now, window))
            seen[same] = placed[-1]
        return placed

    def would_add(self, deliveries, dedup_window):
        """For each Delivery, whether accept would write a new row now (nothing in the dedup window): read
        only, for a dry run."""
        now = self.now()
        with self.writer.reading() as conn:
            return [self._place(conn, delivery, now, dedup_window).is_new for delivery in deliveries]

    def _admit(self, conn, placed, now, peeked=None):
        """Ask each destination's gate which new rows may be sent, now or at a turn within `rate_wait`;
        mark the others held (left to the worker). The turns are reserved in the gate, in this transaction.

        With `peeked` gates (read unlocked) that are all free, every new row goes now and no gate is locked:
        the gate rows stop serializing every process's accepts. A breaker another process is opening at that
        very moment lets one more row go, as the settling of a gate may be one probe step late."""
        wanted = Counter(d.destination for d in placed if d.is_new)
        if peeked is not None and all(name in peeked and self.gates.free(peeked[name]) for name in wanted):
            return placed
        gates = gate_rows.load(conn, wanted)
        before = gate_rows.snapshot(gates)
        grants = {name: self.gates.reserve(gates[name], count, now, self.rate_wait)
                  for name, count in wanted.items()}
        gate_rows.save(conn, gates, before)
        out = []
        for place in placed:
            waits, reason = grants.get(place.destination) if place.is_new else (None, None)
            if waits:
                place = replace(place, wait=waits.pop(0))
            elif waits is not None:
                place = replace(place, hold=reason or "over the destination's delivery rate")
            out.append(place)
        return out

    @staticmethod
    def _take_key(conn, key, request_id, fingerprint, now, lease_until):
        try:
            with conn.begin_nested():
                conn.execute(sql.INSERT_REQUEST, {"id": request_id, "idempotency_key": key, "created_at": now,
                                              "fingerprint": fingerprint, "lease_until": lease_until})
        except IntegrityError:
            return KeyState(*conn.execute(sql.KEY_STATE, {"key": key}).first())
        return None

    @staticmethod
    def _same_row(placed):
        """What a delivery answered by `placed`'s row takes from it."""
        return {name: getattr(placed, name) for name in ("id", "status", "outcome", "last_code", "last_text",
                                                          "attempts", "retry_since")}

    def _place(self, conn, delivery, now, window):
        """The newest row of this mode in the window that asked the vendor the same, or a new one."""
        d = delivery
        if window > 0:
            params = {"target": d.target, "destination": d.destination, "group": d.group,
                      "since": now - timedelta(seconds=window), "mode": self.mode}
            rows = hot.rows(conn, sql.DEDUP_NO_GROUP if d.group is None else sql.DEDUP_GROUP, params)
            wanted = d.answerable_by()
            earlier = next((row for row in rows if asks(row["payload"], row["target"]) in wanted
                            and answers_spelling(row, d.target)), None)
            if earlier is not None:
                return replace(d, id=earlier["id"], is_new=False, status=earlier["status"],
                               outcome=earlier["outcome"], last_code=earlier["last_code"], attempts=0,
                               retry_since=None)
        return replace(d, id=new_id(), is_new=True, status=PENDING, outcome=None, last_code=None, attempts=0,
                       retry_since=now, hold=None, wait=0.0)

    def _row(self, place, request_id, key, now, lease_until, lease_owner):
        d = place
        turn = now + timedelta(seconds=d.wait)  # the sender holds the lease through its wait
        if d.hold or not lease_owner:  # the worker takes it: no lease
            lease_until = lease_owner = None
        elif d.wait:
            lease_until += turn - now
        asked = d.request
        return {"id": d.id, "request_id": request_id, "item_index": d.index, "idempotency_key": key,
                "destination": d.destination, "target": d.target, "group_name": d.group,
                "campaign": d.campaign, "options": d.options, "payload": d.payload,
                "status": PENDING, "attempts": 0, "created_at": now, "updated_at": now,
                "next_attempt_at": turn, "retry_since": now, "lease_owner": lease_owner,
                "lease_until": lease_until, "mode": self.mode, "channel": asked and asked.channel,
                "auth_method": asked and asked.auth, "received_at": asked and asked.received_at}

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
        gate and there is no answer to store, that statement is the whole transaction (one round trip)."""
        settles = all(self.gates.settles(o) for o in sent)
        settle = [o.destination for o in sent] if settles else []
        statement, params = self._batch(attempts, changes, owner, settle)
        if settles and not answer:
            done = {row["id"] for row in self.writer.alone(statement, params)}
        else:
            def work(conn):
                self._set_answer(conn, answer)
                if not settles:
                    self._observe(conn, sent, now)
                return {row["id"] for row in hot.rows(conn, statement, params)}
            done = self.writer.transaction(work)
        return [c for c in changes if c["_id"] in done]

    @staticmethod
    def _batch(attempts, changes, owner, settle):
        """(sql.RECORD_ONE or sql.RECORD, its parameters): the attempts and the changes (in the same order)
        as scalars for one row, parallel arrays for more."""
        one = len(attempts) == 1
        params = {**{name: [row[key] for row in attempts] for name, key in sql.RECORD_ATTEMPT.items()},
                  **{name: [change[key] for change in changes] for name, key in sql.RECORD_RESULT.items()}}
        params = {name: values[0] for name, values in params.items()} if one else params
        return sql.RECORD_ONE if one else sql.RECORD, {**params, "_owner": owner, "settle": sorted(set(settle))}

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
