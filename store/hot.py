"""The hot path's statements (one webhook's accept and record) run on the driver's cursor.

Why by hand: through Connection.execute every statement pays SQLAlchemy's per-call work (building its
parameters and its result: about 30 µs of CPU on SQLite and 85 on PostgreSQL, measured against the driver
alone), six times per webhook: a tenth of a webhook's CPU in the contest (bench/ab.py). Core still builds
and compiles every statement; only its execution is done here, and only with SQLAlchemy's public API:

- ClauseElement.compile with the connection's own dialect, whose paramstyle is a named one (psycopg's
  pyformat; SQLite's engine is made with paramstyle="named", store/db.py), so parameters go by name;
- the compiled statement's `params` (the values written into the statement, such as its LIMIT) and `binds`;
- each bound or selected type's processors through TypeEngine.dialect_impl: values go to the driver and
  come back exactly as Core would convert them (SQLite's datetimes as text, JSON as text).

The statements stay named in store/statements/; the caller's transaction is the connection's. A driver error
becomes StoreUnavailable, as the engine's own translation does for Core's. No engine event fires for these
statements: tools that want to see them (bench/growth.py explains each plan) call watch().
"""

from contextlib import contextmanager

from errors import StoreUnavailable


class _Ready:
    """One statement compiled for one dialect (and, for an INSERT or UPDATE, one set of value columns)."""

    def __init__(self, statement, dialect, keys):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        self.sql = str(compiled)
        self.fixed = dict(compiled.params)
        self.processors = {name: processor for name, bind in compiled.binds.items()
                           if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        # An INSERT also sets the columns its values leave out that have a Python-side default (Core computes
        # those at execution; a server default needs nothing).
        self.defaults = {}
        if statement.is_insert and keys:
            self.defaults = {column.key: column.default for column in statement.table.columns
                             if column.key not in keys and column.default is not None}
        self.dialect, self.columns = dialect, list(getattr(statement, "selected_columns", ()))
        self.names = [column.key for column in self.columns]
        self.readers = None  # from the first result's description: a processor may need the driver's type

    def _readers(self, description):
        return [column.type.dialect_impl(self.dialect).result_processor(self.dialect, entry[1])
                for column, entry in zip(self.columns, description)]

    def bound(self, params):
        values = {**self.fixed, **params}
        for name, default in self.defaults.items():
            values[name] = default.arg(None) if default.is_callable else default.arg
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        return values

    def read(self, cursor):
        """The cursor's rows as dicts of column name to value, converted as Core converts them."""
        fetched = cursor.fetchall()
        if self.readers is None and cursor.description:
            self.readers = self._readers(cursor.description)
        return [{name: reader(value) if reader else value
                 for name, reader, value in zip(self.names, self.readers, row)} for row in fetched]


_CACHE = {}
_WATCHERS = []  # callables (engine, sql, values, many) told of each statement as the driver gets it


def watch(callback):
    """Tell `callback(engine, sql, values, many)` of every hot statement from now on; returns the undo."""
    _WATCHERS.append(callback)
    return lambda: _WATCHERS.remove(callback)


def _tell(conn, sql, values, many=False):
    for callback in _WATCHERS:
        callback(conn.engine, sql, values, many)


def _ready(conn, statement, keys=None):
    key = (statement, conn.dialect.name, keys)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = _Ready(statement, conn.dialect, keys)
    return found


@contextmanager
def _cursor(conn):
    """The driver's cursor on the connection's transaction, closed after; a driver error, or a value the
    driver or a type cannot take (Core's StatementError), becomes StoreUnavailable."""
    # Connection.connection is the pool's connection proxy; driver_connection the driver's own (public API).
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    except (conn.dialect.loaded_dbapi.Error, TypeError, ValueError) as exc:
        raise StoreUnavailable(type(exc).__name__) from None
    finally:
        cursor.close()


def rows(conn, statement, params):
    """A SELECT (or a statement RETURNING rows): its rows as dicts of column name to value."""
    compiled = _ready(conn, statement)
    with _cursor(conn) as cursor:
        values = compiled.bound(params)
        _tell(conn, compiled.sql, values)
        cursor.execute(compiled.sql, values)
        return compiled.read(cursor)


def run(conn, statement, params):
    """An INSERT, UPDATE or DELETE with one dict of values, or with a list of them (all with the same keys);
    the number of rows it touched."""
    batch = params if isinstance(params, list) else [params]
    if not batch:
        return 0
    compiled = _ready(conn, statement, tuple(batch[0]))
    with _cursor(conn) as cursor:
        values = [compiled.bound(one) for one in batch]
        many = len(values) > 1
        _tell(conn, compiled.sql, values if many else values[0], many)
        if many:
            cursor.executemany(compiled.sql, values)
        else:
            cursor.execute(compiled.sql, values[0])
        return cursor.rowcount
