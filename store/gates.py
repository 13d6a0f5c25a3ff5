"""Loading and saving destination gates inside the caller's transaction (mechanism; policy in breaker.py).

On PostgreSQL the rows are locked FOR UPDATE, so two processes admitting or recording for the same
destination take turns; on SQLite the write transaction already holds the database's one write lock.
"""

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from store.breaker import CLOSED, SETTLED
from store.models import GATES, row_dict
from store.prepared import Prepared

G = GATES.c
COLUMNS = [c.name for c in GATES.c]
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
# Built once, one destination each, on the driver's cursor (store/prepared.py): building a statement per
# call, or an expanding IN re-rendered per execution, cost more than running it. Several destinations are
# taken one statement each, in sorted order (the order their locks are taken in).
SELECT = Prepared(select(GATES).where(G.destination == bindparam("name")))
SELECT_LOCKED = Prepared(SELECT.statement.with_for_update())
# Only a gate that is not already settled is written (and, on PostgreSQL, locked).
UNSETTLED = or_(*(GATES.c[k] != v for k, v in SETTLED.items() if v is not None),
                *(GATES.c[k].is_not(None) for k, v in SETTLED.items() if v is None))
SETTLE = Prepared(update(GATES).where(G.destination == bindparam("name"), UNSETTLED).values(**SETTLED))


def fresh(name):
    """A closed gate with a full bucket, as a new destination starts."""
    return {"destination": name, "state": CLOSED, "failures": 0, "failed_probes": 0, "probing": 0, "opened_at": None,
            "next_probe_at": None, "reason": None, "tokens": 0.0, "tokens_at": None}


def load(conn, names, lock=True):
    """{destination: gate dict} for these destinations, rows created when missing, locked for update."""
    names = sorted(set(names))
    if not names:
        return {}
    query = SELECT_LOCKED if lock else SELECT
    gates = {row["destination"]: row for name in names for row in query.all(conn, {"name": name})}
    missing = [name for name in names if name not in gates]
    if missing:
        insert = INSERTS.get(conn.dialect.name)
        rows = [fresh(name) for name in missing]
        if insert is not None:
            conn.execute(insert(GATES).values(rows).on_conflict_do_nothing())
        else:  # pragma: no cover - PostgreSQL and SQLite are the supported stores
            conn.execute(GATES.insert(), rows)
        return load(conn, names, lock)
    return gates


def save(conn, gates, before):
    """Write back the gates that changed (compared with `before`, the values as loaded)."""
    for name, gate in gates.items():
        if gate != before.get(name):
            values = {k: v for k, v in gate.items() if k != "destination"}
            conn.execute(update(GATES).where(G.destination == name).values(**values))


def settle(conn, names):
    """Put these destinations' gates in the settled state (breaker closed, counts cleared), one guarded
    UPDATE each, without reading them first. A missing row is a fresh gate, already settled.

    A gate opened by another transaction that has not committed yet is not seen, and stays open until its
    next probe: the price of not locking every gate on every success (at most one probe step late)."""
    for name in sorted(set(names)):
        SETTLE.rowcount(conn, {"name": name})


def snapshot(gates):
    """A copy to compare against when saving."""
    return {name: dict(gate) for name, gate in gates.items()}


def states(conn):
    """Every gate as JSON-able values, for /readyz and the operator."""
    return {row.destination: row_dict(row) for row in conn.execute(select(GATES).order_by(G.destination))}
