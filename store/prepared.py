"""The hot path's statements, run on the driver's cursor, compiled once per dialect by SQLAlchemy itself.

Every webhook runs the same few statements (dedup look-up, gate, insert; attempt, gate, result). Through
`Connection.execute` each cost about 90 µs of CPU in SQLAlchemy's execution machinery (compiled-cache key,
execution context, events, result metadata) for about 10 µs of database work: the same accept transaction
took 45 µs in plain sqlite3 and 460 µs through Core. Here nothing is written by hand: the SQL is
SQLAlchemy's compilation of a Core statement for the connection's dialect, each parameter goes through its
column type's own bind processor and each selected column through its result processor; only the
per-call machinery is skipped. The transaction, savepoints and locks stay the Connection's.
"""

from sqlalchemy.exc import DBAPIError


class _Compiled:
    """One statement compiled for one dialect: SQL text, parameter order, type processors."""

    def __init__(self, statement, columns, dialect):
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        if compiled.post_compile_params:
            raise ValueError("a prepared statement cannot hold an expanding IN (render it per call)")
        self.sql, self.order, self.dialect = compiled.string, compiled.positiontup, dialect
        self.defaults, self.binds = {}, {}  # by rendered name: values fixed in the statement, processors
        for bind, name in compiled.bind_names.items():  # BindParameter -> its name in the SQL
            if not bind.required and bind.callable is None:
                self.defaults[name] = bind.value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binds[name] = processor
        self.selected = list(getattr(statement, "selected_columns", None) or [])
        self.results = None  # result processors, made from the first answer's column types

    def parameters(self, params):
        values = {**self.defaults, **params}
        for name, process in self.binds.items():
            if name in values:
                values[name] = process(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)

    def rows(self, cursor):
        if self.results is None:
            self.results = [column.type.dialect_impl(self.dialect).result_processor(self.dialect, kind[1])
                            for column, kind in zip(self.selected, cursor.description)]
        names = [column.key for column in self.selected]
        return [{name: (process(value) if process else value)
                 for name, process, value in zip(names, self.results, raw)} for raw in cursor.fetchall()]


def _translated(conn, compiled, exc):
    """The SQLAlchemy error Connection.execute would have raised for `exc` (parameters never shown)."""
    return DBAPIError.instance(compiled.sql, None, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
                               dialect=conn.dialect)


class Prepared:
    """A Core statement to run on the driver's cursor of a Connection (see the module's doc). An INSERT or
    UPDATE names the `columns` it sets, as SQLAlchemy would learn them from the first row of parameters."""

    def __init__(self, statement, columns=None):
        self.statement, self.columns, self._by_dialect = statement, columns, {}  # (dialect, driver, style)

    def _for(self, conn):
        dialect = conn.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect[key] = _Compiled(self.statement, self.columns, dialect)
        return compiled

    def _cursor(self, conn, params):
        compiled = self._for(conn)
        cursor = conn.connection.driver_connection.cursor()
        try:
            parameters = compiled.parameters(params)
            # SQLAlchemy's own hook still sees the statement (tracing, the benchmark's plan catcher); a
            # listener that would rewrite it (retval=True) is not supported here.
            for listener in conn.dispatch.before_cursor_execute:
                listener(conn, cursor, compiled.sql, parameters, None, False)
            cursor.execute(compiled.sql, parameters)
        except Exception as exc:  # as Connection.execute would raise it: a value refused, a DBAPI error
            cursor.close()
            raise _translated(conn, compiled, exc) from exc
        return compiled, cursor

    def rowcount(self, conn, params):
        """Run a write; how many rows it changed."""
        _, cursor = self._cursor(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def all(self, conn, params):
        """Run a query; its rows as dicts of column name to value."""
        compiled, cursor = self._cursor(conn, params)
        try:
            return compiled.rows(cursor)
        except Exception as exc:
            raise _translated(conn, compiled, exc) from exc
        finally:
            cursor.close()
