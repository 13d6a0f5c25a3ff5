"""Loading and saving destination gates inside the caller's transaction (mechanism; policy in breaker.py).

On PostgreSQL the rows are locked FOR UPDATE, so two processes admitting or recording for the same
destination take turns; on SQLite the write transaction already holds the database's one write lock.
"""

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from store.breaker import CLOSED
from store.models import GATES, row_dict

G = GATES.c
COLUMNS = [c.name for c in GATES.c]
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def fresh(name):
    """A closed gate with a full bucket, as a new destination starts."""
    return {"destination": name, "state": CLOSED, "failures": 0, "failed_probes": 0, "probing": 0, "opened_at": None,
            "next_probe_at": None, "reason": None, "tokens": 0.0, "tokens_at": None}


def load(conn, names, lock=True):
    """{destination: gate dict} for these destinations, rows created when missing, locked for update."""
    names = sorted(set(names))
    if not names:
        return {}
    query = select(GATES).where(G.destination.in_(names)).order_by(G.destination)
    if lock:
        query = query.with_for_update()
    gates = {row.destination: dict(row._mapping) for row in conn.execute(query)}
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


def snapshot(gates):
    """A copy to compare against when saving."""
    return {name: dict(gate) for name, gate in gates.items()}


def states(conn):
    """Every gate as JSON-able values, for /readyz and the operator."""
    return {row.destination: row_dict(row) for row in conn.execute(select(GATES).order_by(G.destination))}
