"""Ledger command accept: a request's delivery rows written before anything is sent, deduplicated against
the window's earlier rows, admitted by each destination's gate; the requests that meet in one write
transaction accepted together (one look-up and one INSERT for all)."""

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from status import NOT_SUBSCRIBED, PENDING
from store import gates as gate_rows
from store import hot
from store import statements as sql
from store.engine import lock_key
from store.rows import KeyState, asks, new_id, recordset


def answers_spelling(row, target):
    """Whether an earlier row may answer this spelling of its address: a vendor that said "not found" for
    Jane.Doe@ was not asked about jane.doe@ (it may match case-sensitively), so only the same spelling."""
    return row["target"] == target or row["outcome"] != NOT_SUBSCRIBED


@dataclass(frozen=True)
class _Asked:
    """One accept() waiting for its batch: what it writes, as of when it was asked."""

    deliveries: list
    key: str
    fingerprint: str
    lease_owner: str
    now: datetime
    request_id: str
    lease_until: datetime
    window: float
    locks: list


def _lookup(delivery):
    """What a dedup look-up matches on beside the window: destination, the address in any case, group."""
    return delivery.destination, delivery.target.lower(), delivery.group


def _query(delivery, since):
    """A dedup look-up's values: (target, destination, group, since)."""
    return delivery.target, delivery.destination, delivery.group, since


def _candidate(place):
    """A new row as the dedup look-up would read it back."""
    return {"id": place.id, "target": place.target, "status": PENDING, "outcome": None, "last_code": None,
            "payload": place.payload}


class Accepts:
    """Mixed into the Ledger: its writer, gates, clock, mode, dedup window and rate wait."""

    def accept(self, deliveries, key=None, fingerprint=None, lease_owner=None, dedup=True, dedup_window=None):
        """Write a request and its delivery rows in one transaction, before anything is sent.

        Returns (request id, [Delivery placed]): each of `deliveries` with its row's id, whether the row is
        new, and that row's state; or the KeyState when the idempotency key was taken meanwhile. A delivery
        within the dedup window gets the earlier row and no new one; on PostgreSQL an advisory lock per
        target and destination makes that decision hold across processes. With a `lease_owner` (the caller
        sends at once) each destination's gate admits the new rows: those it holds back (breaker open, over
        the rate) are left to the worker, with the reason in `hold`.

        The requests that meet in one write transaction are accepted together (_accept_many).
        """
        now, key = self.now(), self._key(key)
        window = self.dedup_window if dedup_window is None else dedup_window
        window = window if dedup else 0
        locks = [lock_key(d.destination, d.target.lower()) for d in deliveries] if window > 0 else []
        asked = _Asked(deliveries, key, fingerprint, lease_owner, now, new_id(), self._lease_until(now),
                       window, locks)
        return self.writer.together(self._accept_many, asked, locks, locks_in_work=self.writer.postgres)

    def _accept_many(self, conn, batch):
        """accept() for every request of a batch ([_Asked]), in order: one statement for the advisory locks
        and a peek at the gates, one dedup look-up (PostgreSQL; one per address on SQLite) and one INSERT,
        whatever the batch's size. A request sees the rows of those before it in the batch as if they had
        been written first (they would have been, one transaction each)."""
        peeked = self._lock_and_peek(conn, batch)
        taken = [self._take_key(conn, a) if a.key else None for a in batch]
        todo = [a for a, state in zip(batch, taken) if state is None]
        windowed = [(d, a.now, a.window) for a in todo if a.window > 0 for d in a.deliveries]
        found = self._candidates(conn, windowed)
        fresh, placed = {}, []  # fresh: this batch's new rows, as the look-up would find them
        for a in todo:
            placed.append(self._placed(a, found, fresh))
            for place in placed[-1]:  # a new row answers those after it, whether or not its request deduped
                if place.is_new:
                    fresh.setdefault(_lookup(place), []).insert(0, _candidate(place))
        sending = [(a, p) for a, p in zip(todo, placed) if a.lease_owner]
        admitted = iter(self._admit(conn, sending, peeked))
        placed = [next(admitted) if a.lease_owner else p for a, p in zip(todo, placed)]
        self._insert(conn, [self._row(p, a) for a, places in zip(todo, placed) for p in places if p.is_new])
        accepted = iter((a.request_id, p) for a, p in zip(todo, placed))
        return [next(accepted) if state is None else state for state in taken]

    def _insert(self, conn, rows):
        """The new rows: one statement on PostgreSQL (the rows as one JSON recordset), an executemany on
        SQLite."""
        if rows and self.writer.postgres:
            hot.rows(conn, sql.INSERT_DELIVERIES, {"rows": recordset(rows, sql.NEW_DELIVERY)})
        elif rows:
            hot.run(conn, sql.INSERT_DELIVERY, rows)

    def _lock_and_peek(self, conn, batch):
        """PostgreSQL: every request's advisory locks, sorted, and the gates of those sending at once as last
        committed (unlocked), in one statement; None on SQLite (its write lock serializes everything)."""
        locks = [key for a in batch for key in a.locks]
        names = [d.destination for a in batch if a.lease_owner for d in a.deliveries]
        if not self.writer.postgres or not (locks or names):
            return None
        return gate_rows.peek(conn, locks, names)

    def _candidates(self, conn, asked):
        """{_query: [rows, newest first]} for [(Delivery, now, window)]: the rows of this mode in each
        window that may answer it."""
        queries = list(dict.fromkeys(_query(d, now - timedelta(seconds=window)) for d, now, window in asked))
        if not queries:
            return {}
        if self.writer.postgres:
            found = {}
            params = {"q": list(range(len(queries))), "targets": [q[0] for q in queries],
                      "destinations": [q[1] for q in queries], "groups": [q[2] for q in queries],
                      "sinces": [q[3] for q in queries], "mode": self.mode}
            for row in hot.rows(conn, sql.DEDUP_MANY, params):
                found.setdefault(row.pop("q"), []).append(row)
            return {query: found.get(n, []) for n, query in enumerate(queries)}
        one_by_one = {}
        for target, destination, group, since in queries:
            statement = sql.DEDUP_NO_GROUP if group is None else sql.DEDUP_GROUP
            params = {"target": target, "destination": destination, "group": group, "since": since,
                      "mode": self.mode}
            one_by_one[target, destination, group, since] = hot.rows(conn, statement, params)
        return one_by_one

    def _placed(self, asked, found, fresh):
        """Each delivery of a request placed: the dedup window's earlier row (one of `found`, or of `fresh`:
        written earlier in this batch), or a new one (those asking the same share it)."""
        placed, seen = [], {}
        for delivery in asked.deliveries:
            same = (delivery.destination, asks(delivery.payload, delivery.target))
            if asked.window > 0 and same in seen:
                placed.append(replace(delivery, **self._same_row(seen[same]), is_new=False))
                continue
            since = asked.now - timedelta(seconds=asked.window)
            earlier = fresh.get(_lookup(delivery), []) + found.get(_query(delivery, since), [])
            placed.append(self._place(delivery, asked.now, asked.window, earlier))
            seen[same] = placed[-1]
        return placed

    def would_add(self, deliveries, dedup_window):
        """For each Delivery, whether accept would write a new row now (nothing in the dedup window): read
        only, for a dry run."""
        now = self.now()
        with self.writer.reading() as conn:
            windowed = [(d, now, dedup_window) for d in deliveries] if dedup_window > 0 else []
            found = self._candidates(conn, windowed)
        since = now - timedelta(seconds=dedup_window)
        return [self._place(d, now, dedup_window, found.get(_query(d, since), [])).is_new for d in deliveries]

    def _admit(self, conn, sending, peeked=None):
        """[Delivery placed] for each (_Asked, placed) of `sending`: each destination's gate says which new
        rows may be sent, now or at a turn within `rate_wait`; the others are marked held (left to the
        worker). The turns are reserved in the gate, in this transaction, request by request.

        With `peeked` gates (read unlocked) that are all free, every new row goes now and no gate is locked:
        the gate rows stop serializing every process's accepts. A breaker another process is opening at that
        very moment lets one more row go, as the settling of a gate may be one probe step late."""
        wanted = [Counter(d.destination for d in placed if d.is_new) for _, placed in sending]
        names = set().union(*wanted)
        if peeked is not None and all(name in peeked and self.gates.free(peeked[name]) for name in names):
            return [placed for _, placed in sending]
        gates = gate_rows.load(conn, names)
        before = gate_rows.snapshot(gates)
        out = []
        for (asked, placed), counts in zip(sending, wanted):
            grants = {name: self.gates.reserve(gates[name], count, asked.now, self.rate_wait)
                      for name, count in counts.items()}
            out.append([self._granted(place, grants) for place in placed])
        gate_rows.save(conn, gates, before)
        return out

    @staticmethod
    def _granted(place, grants):
        waits, reason = grants.get(place.destination) if place.is_new else (None, None)
        if waits:
            return replace(place, wait=waits.pop(0))
        if waits is not None:
            return replace(place, hold=reason or "over the destination's delivery rate")
        return place

    @staticmethod
    def _take_key(conn, asked):
        """None when the request's key is now its own, else the KeyState of the request that took it."""
        try:
            with conn.begin_nested():
                conn.execute(sql.INSERT_REQUEST, {"id": asked.request_id, "idempotency_key": asked.key,
                                                  "created_at": asked.now, "fingerprint": asked.fingerprint,
                                                  "lease_until": asked.lease_until})
        except IntegrityError:
            return KeyState(*conn.execute(sql.KEY_STATE, {"key": asked.key}).first())
        return None

    @staticmethod
    def _same_row(placed):
        """What a delivery answered by `placed`'s row takes from it."""
        return {name: getattr(placed, name) for name in ("id", "status", "outcome", "last_code", "last_text",
                                                          "attempts", "retry_since")}

    @staticmethod
    def _place(delivery, now, window, candidates):
        """The newest of `candidates` (rows of this mode in the window, newest first) that asked the vendor
        the same, or a new row."""
        d = delivery
        if window > 0:
            wanted = d.answerable_by()
            earlier = next((row for row in candidates if asks(row["payload"], row["target"]) in wanted
                            and answers_spelling(row, d.target)), None)
            if earlier is not None:
                return replace(d, id=earlier["id"], is_new=False, status=earlier["status"],
                               outcome=earlier["outcome"], last_code=earlier["last_code"], attempts=0,
                               retry_since=None)
        return replace(d, id=new_id(), is_new=True, status=PENDING, outcome=None, last_code=None, attempts=0,
                       retry_since=now, hold=None, wait=0.0)

    def _row(self, place, asked):
        """The new row of a delivery `place`d for the request `asked`."""
        d, now, lease_until, lease_owner = place, asked.now, asked.lease_until, asked.lease_owner
        turn = now + timedelta(seconds=d.wait)  # the sender holds the lease through its wait
        if d.hold or not lease_owner:  # the worker takes it: no lease
            lease_until = lease_owner = None
        elif d.wait:
            lease_until += turn - now
        how = d.request
        return {"id": d.id, "request_id": asked.request_id, "item_index": d.index,
                "idempotency_key": asked.key,
                "destination": d.destination, "target": d.target, "group_name": d.group,
                "campaign": d.campaign, "options": d.options, "payload": d.payload,
                "status": PENDING, "attempts": 0, "created_at": now, "updated_at": now,
                "next_attempt_at": turn, "retry_since": now, "lease_owner": lease_owner,
                "lease_until": lease_until, "mode": self.mode, "channel": how and how.channel,
                "auth_method": how and how.auth, "received_at": how and how.received_at}
