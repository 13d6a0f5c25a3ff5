"""Every statement the ledger runs, by name, built once (after procrastinate's queries.sql): the one place
to read what the store asks the database. The store's other modules say when and with what values; no
module but these builds SQL. Statements are SQLAlchemy Core, run through `Connection.execute` (its
compiled cache makes a statement built once compile once per dialect), except the hot path's, which
store/hot.py compiles once per dialect and runs on the driver's cursor. Where a query's shape depends on
optional filters, a function here builds it from these same pieces.

Dialect-specific upserts are kept by dialect name: `ON CONFLICT` is spelled by each dialect's own `insert`.
By room: write (the senders: accept, record, claim, replay), confirm (read-backs), reads (the operator's
reads, purge, log), upkeep (heartbeats, alerts, sessions); base holds what they share. The store reads
them all as `sql.NAME` through this package.
"""

from store.statements.base import *  # noqa: F403 - the package is the statements' one namespace
from store.statements.confirm import *  # noqa: F403
from store.statements.reads import *  # noqa: F403
from store.statements.upkeep import *  # noqa: F403
from store.statements.write import *  # noqa: F403
