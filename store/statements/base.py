"""What every statement module shares: the tables' columns, the bound filters used across rooms, helpers."""

from sqlalchemy import bindparam, or_
from sqlalchemy.dialects import postgresql, sqlite

from store.models import (ALERTS, ATTEMPTS, CONSOLE_SESSIONS, DELIVERIES, GATES, HEARTBEATS, LOGIN_FAILURES,
                          OPERATOR_LOG, REQUESTS)

D, A, R, G = DELIVERIES.c, ATTEMPTS.c, REQUESTS.c, GATES.c
H, AL, L, S, F = HEARTBEATS.c, ALERTS.c, OPERATOR_LOG.c, CONSOLE_SESSIONS.c, LOGIN_FAILURES.c
DIALECT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
LIKE_ESCAPE = "\\"


def ids(name="ids"):
    return bindparam(name, expanding=True)


def by_dialect(build):
    """{dialect name: build(that dialect's insert)}: for the upserts."""
    return {name: build(make) for name, make in DIALECT_INSERTS.items()}


def prefix_pattern(value):
    """A LIKE pattern matching `value` at the start, its own %, _ and \\ taken literally."""
    escaped = value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"

OWN = D.mode == bindparam("mode")  # the rows of the caller's mode (live or sandbox)
UNLEASED = or_(D.lease_until.is_(None), D.lease_until < bindparam("now"))
JOINED = ATTEMPTS.join(DELIVERIES, A.delivery_id == D.id)
