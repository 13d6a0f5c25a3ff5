"""Loading and saving destination gates inside the caller's transaction (mechanism; policy in breaker.py).

On PostgreSQL the rows are locked FOR UPDATE, so two processes admitting or recording for the same
destination take turns; on SQLite the write transaction already holds the database's one write lock.
Several destinations are taken one statement each, in sorted order (the order their locks are taken in).
"""

from store import hot
from store import statements as sql
from store.breaker import CLOSED


def fresh(name):
    """A closed gate with a full bucket, as a new destination starts."""
    return {"destination": name, "state": CLOSED, "failures": 0, "failed_probes": 0, "probing": 0, "opened_at": None,
            "next_probe_at": None, "reason": None, "tokens": 0.0, "tokens_at": None}


def load(conn, names, lock=True):
    """{destination: gate dict} for these destinations, rows created when missing, locked for update."""
    names = sorted(set(names))
    if not names:
        return {}
    query = sql.GATE_LOCKED if lock else sql.GATE
    gates = {row["destination"]: row for name in names for row in hot.rows(conn, query, {"name": name})}
    missing = [name for name in names if name not in gates]
    if missing:
        conn.execute(sql.GATE_CREATE[conn.dialect.name], [fresh(name) for name in missing])
        return load(conn, names, lock)
    return gates


def peek(conn, locks, names):
    """{destination: gate dict} of those of `names` that have a row, as last committed and unlocked, with the
    advisory `locks` taken in the same statement (PostgreSQL): one round trip for both."""
    rows = hot.rows(conn, sql.LOCKS_AND_GATES, {"keys": sorted(set(locks)), "names": sorted(set(names))})
    return {row["destination"]: row for row in rows if row["destination"] is not None}


def save(conn, gates, before):
    """Write back the gates that changed (compared with `before`, the values as loaded)."""
    for name, gate in gates.items():
        if gate != before.get(name):
            changed = {k: v for k, v in gate.items() if k != "destination" and v != before.get(name, {}).get(k)}
            conn.execute(sql.GATE_SAVE, {"_name": name, **changed})


def settle(conn, names):
    """Put these destinations' gates in the settled state (breaker closed, counts cleared), one guarded
    UPDATE each, without reading them first. A missing row is a fresh gate, already settled.

    A gate opened by another transaction that has not committed yet is not seen, and stays open until its
    next probe: the price of not locking every gate on every success (at most one probe step late)."""
    for name in sorted(set(names)):
        hot.run(conn, sql.GATE_SETTLE, {"name": name})


def snapshot(gates):
    """A copy to compare against when saving."""
    return {name: dict(gate) for name, gate in gates.items()}


def states(conn):
    """Every gate (typed values), by destination, for /readyz and the operator."""
    return {row["destination"]: dict(row) for row in conn.execute(sql.ALL_GATES).mappings()}
