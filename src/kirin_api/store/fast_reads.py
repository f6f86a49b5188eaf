"""The reads of every API request (a key's account, one task, a page of tasks) without
SQLAlchemy's execution machinery.

Executing a statement through a SQLAlchemy ``Connection`` (events, a transaction object,
``BEGIN``/``COMMIT``, result processing) costs about a hundred microseconds of Python per read;
the query itself, on an index, a few. These reads are each one ``SELECT``: one statement is its
own consistent snapshot on both databases (SQLite in autocommit mode; PostgreSQL's statement
snapshot), so they need no transaction around them. :class:`FastReads` compiles each statement of
:mod:`kirin_api.store.queries` once for the engine's dialect, then runs it on a pooled DBAPI
connection (the same pool, the same connect and checkout hooks) and hands rows over as mappings
to the same record builders.

Errors: the driver's own errors (``sqlite3.Error``, ``psycopg.Error``) are raised as SQLAlchemy's
``DBAPIError`` family (``OperationalError`` ...), the same way SQLAlchemy would, so the store's
``_translate`` turns them into :class:`~kirin_api.store.base.StoreUnavailable`; a connection the
driver says is broken is invalidated, not returned to the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Dialect, Engine, exc
from sqlalchemy.sql import Select

T = TypeVar("T")
# Records kept per builder (see FastReads.records): a polled page is 20 rows; past this many the
# memo starts again empty, which bounds its memory (a few MB) against a scan of many tasks.
MEMO_ROWS = 4096


class RecordMemo(Generic[T]):
    """Records built from rows, the same record again while its row is unchanged.

    A polling client reads the same rows over and over (a finished task never changes), and
    building a record (decoding its JSON columns) cost more than the read. The key is the whole
    row as the driver returned it, so any change to any column is a new record: it can never
    answer a stale one. ``build`` must be a pure function of the row, and its records immutable
    (TaskRecord: frozen, and no code changes its dicts in place).
    """

    def __init__(self, build: Callable[[Mapping[str, Any]], T]) -> None:
        self._build = build
        self._records: dict[Hashable, T] = {}

    def of(self, row: Sequence[Any], columns: Sequence[str]) -> T:
        """The record of ``row``, whose values are in the order of ``columns``."""
        key = tuple(row)
        try:
            record = self._records.get(key)
        except TypeError:  # a value the driver returns unhashable (a JSON column as a dict)
            return self._build(dict(zip(columns, key, strict=True)))
        if record is None:
            record = self._build(dict(zip(columns, key, strict=True)))
            if len(self._records) >= MEMO_ROWS:
                self._records.clear()
            self._records[key] = record
        return record


class CompiledRead:
    """One ``SELECT`` compiled for one dialect: its SQL text, how to order its parameters, and
    the names of its columns."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._order: Sequence[str] | None = (
            list(compiled.positiontup or []) if dialect.positional else None
        )
        self.columns = tuple(str(column.key) for column in statement.selected_columns)
        # Parameters the dialect adds with a value of its own (SQLite's ``OFFSET 0``).
        self._defaults = dict(compiled.params)

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        merged = {**self._defaults, **values}
        if self._order is None:
            return merged
        return [merged[name] for name in self._order]


class FastReads:
    """Runs :class:`CompiledRead` statements on ``engine``'s pool (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._compiled: dict[int, CompiledRead] = {}
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._autocommit = engine.dialect.name == "postgresql"
        self._memos: dict[Callable[..., Any], RecordMemo[Any]] = {}

    def rows(self, statement: Select[Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of ``statement`` with ``values`` bound, as column name -> value."""
        compiled, fetched = self._fetch(statement, values)
        return [dict(zip(compiled.columns, row, strict=True)) for row in fetched]

    def records(
        self,
        statement: Select[Any],
        values: Mapping[str, Any],
        build: Callable[[Mapping[str, Any]], T],
    ) -> list[T]:
        """``build(row)`` for each row, the same record again while a row is unchanged (see
        :class:`RecordMemo`)."""
        compiled, fetched = self._fetch(statement, values)
        memo = self._memos.get(build)
        if memo is None:
            memo = self._memos[build] = RecordMemo(build)
        return [memo.of(row, compiled.columns) for row in fetched]

    def _fetch(
        self, statement: Select[Any], values: Mapping[str, Any]
    ) -> tuple[CompiledRead, Sequence[Sequence[Any]]]:
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            # Keyed by identity: the statements are module constants, built once.
            compiled = self._compiled[id(statement)] = CompiledRead(statement, self._engine.dialect)
        try:
            connection = self._engine.raw_connection()
        except self._dbapi_error as error:  # no connection could be made (the server is down)
            raise self._wrap(compiled, error) from error
        try:
            # psycopg outside autocommit would send BEGIN before the SELECT and need a ROLLBACK
            # after it: three round trips for one. Set locally, without a round trip, and put
            # back before the connection returns to the pool. (SQLite's connections are in
            # autocommit mode already: see kirin_api.store.sqlite.)
            autocommit = self._autocommit and not connection.dbapi_connection.autocommit  # type: ignore[union-attr]
            if autocommit:
                connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(compiled.sql, compiled.parameters(values))
                    fetched = cursor.fetchall()
                finally:
                    cursor.close()
            finally:
                if autocommit:
                    connection.dbapi_connection.autocommit = False  # type: ignore[union-attr]
        except self._dbapi_error as error:
            if self._engine.dialect.is_disconnect(
                cast(Any, error), connection.dbapi_connection, cursor=None
            ):
                connection.invalidate(error)
            raise self._wrap(compiled, error) from error
        finally:
            connection.close()  # back to the pool (or discarded, if invalidated)
        return compiled, fetched

    def _wrap(self, compiled: CompiledRead, error: Exception) -> exc.StatementError:
        """The driver's error as SQLAlchemy would raise it (``OperationalError`` ...)."""
        return exc.DBAPIError.instance(
            compiled.sql, None, error, self._dbapi_error, dialect=self._engine.dialect
        )
