"""Ledger commands of the senders after acceptance: claim due rows, give leases back, replay (requeue, lease
again). A lease (owner, until) on a pending row says who sends it; SKIP LOCKED keeps claimers apart."""

from datetime import timedelta

from store import gates as gate_rows
from store import statements as sql
from store.rows import read_delivery


class Leases:
    """Mixed into the Ledger: its writer, policy, gates, clock and mode."""

    def claim(self, owner, limit, destinations):
        """Lease up to `limit` due rows of these destinations to `owner`, as each one's gate admits them
        (one probe per step while its breaker is open; its delivery rate). SKIP LOCKED keeps workers apart."""
        def due(conn, name, gate, now, taken):
            return list(conn.execute(sql.DUE, {"now": now, "destination": name, "limit": limit,
                                               "mode": self.mode}).scalars())
        return self._lease_through_gates(owner, destinations, due)

    def _lease_through_gates(self, owner, destinations, due):
        """Lease to `owner`, in one transaction, the rows `due(conn, name, gate, now, taken)` lists for each
        destination, as far as its gate admits them; `due` answers None to leave a gate untouched. The
        Deliveries leased; sends and read-backs share this, so both keep to one rate and one breaker."""
        now = self.now()
        with self.writer.writing() as conn:
            gates = gate_rows.load(conn, destinations)
            before = gate_rows.snapshot(gates)
            ids = []
            for name in sorted(gates):
                found = due(conn, name, gates[name], now, len(ids))
                if found is not None:
                    granted, _ = self.gates.admit(gates[name], len(found), now)
                    ids.extend(found[:granted])
            gate_rows.save(conn, gates, before)
            if not ids:
                return []
            conn.execute(sql.LEASE, {"ids": ids, "owner": owner, "until": self._lease_until(now)})
            return self._leased(conn, ids, owner)

    @staticmethod
    def _leased(conn, ids, owner):
        """The rows of `ids` this owner holds now, as Deliveries (what it sends)."""
        return [read_delivery(row) for row in conn.execute(sql.LEASED, {"ids": ids, "owner": owner}).mappings()]

    def _lease_until(self, now):
        return now + timedelta(seconds=self.policy.lease_seconds)

    def waiting(self, destinations):
        """How many rows are due for destinations whose breaker is closed (held back only by the rate)."""
        with self.writer.reading() as conn:
            return conn.execute(sql.WAITING, {"now": self.now(), "destinations": list(destinations),
                                              "mode": self.mode}).scalar()

    def release(self, owner):
        """Give back every lease this owner holds (a worker stopping cleanly)."""
        with self.writer.writing() as conn:
            conn.execute(sql.RELEASE, {"owner": owner})

    def requeue(self, ids=None, failed=False):
        """Make deliveries due now again (replay), with a fresh retry window; returns how many. An operator's
        replay means now: an open breaker of their destinations may probe at once."""
        params = {"now": self.now(), "_mode": self.mode, "ids": list(ids or [])}
        with self.writer.writing() as conn:
            destinations = list(conn.execute(sql.REQUEUED_DESTINATIONS[failed], params).scalars())
            count = conn.execute(sql.REQUEUE[failed], params).rowcount
            if destinations:
                conn.execute(sql.PROBE_NOW, {"destinations": destinations, "now": params["now"]})
        return count

    def lease_again(self, ids, owner, destinations, seen=None):
        """Replay by id: these rows of this mode and these destinations, due now with a fresh retry window,
        leased to `owner` in one statement (no worker can claim them in between); rows another sender holds
        now are left to it, and with `seen` a row whose attempts are no longer `seen` (sent meanwhile).
        Returns the leased Deliveries as claim() does: the caller sends exactly these."""
        now, ids = self.now(), list(ids)
        with self.writer.writing() as conn:
            params = {"ids": ids, "_mode": self.mode, "destinations": list(destinations), "now": now,
                      "owner": owner, "until": self._lease_until(now)}
            if seen is None:
                conn.execute(sql.LEASE_AGAIN, params)
            else:  # only while the row has the attempts the operator saw
                conn.execute(sql.LEASE_AGAIN_SEEN, {**params, "seen": seen})
            return self._leased(conn, ids, owner)
