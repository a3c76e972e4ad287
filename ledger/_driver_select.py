"""A SELECT built once and run on the database driver's own cursor: the statements a verification runs on every
request (its document's row, the chain index's state, its issuer's register of offices).

A speed trick (docs/benchmarks.md, "The fast path"). Through SQLAlchemy's execution (its context, result object
and rows) one such statement cost about 80 µs of CPU here, on the driver's cursor about 25 µs. What stays
SQLAlchemy's: the SQL is its compilation of the statement for the connection's dialect, parameters and values go
through the column types' own bind and result processing, and a driver error is raised as SQLAlchemy's
(``DBAPIError.instance``), so storage errors keep their codes. Rows are named tuples of the statement's column
names, used as SQLAlchemy's rows are (by name or unpacked).

Only on SQLite. On PostgreSQL the statement goes through SQLAlchemy (``conn.execute``), whose handling of a dropped
connection (the pool invalidates it) is worth more than the microseconds, and where a round trip costs more anyway.
``tests/ledger/test_driver_select.py`` holds both ways equal.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

__all__ = ["DriverSelect"]

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the bind parameters' names in placeholder order (a name may come more than once)
    binds: tuple[_Processor, ...]
    results: tuple[_Processor, ...]


class DriverSelect:
    """``statement`` (a SELECT), run by :meth:`first` and :meth:`all`."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        # SQLAlchemy's own names for the row's fields (a repeated name gets a suffix, as in its rows)
        self.row: Any = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        self._plans: dict[str, _Plan] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row (or None), as ``conn.execute(statement, params).first()`` gives it."""
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, dict(params)).first()
        rows = self._run(conn, params, one=True)
        return rows[0] if rows else None

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row, as ``conn.execute(statement, params).all()`` gives them."""
        if conn.dialect.name != "sqlite":
            return list(conn.execute(self.statement, dict(params)).all())
        return self._run(conn, params, one=False)

    def _run(self, conn: Connection, params: Mapping[str, Any], *, one: bool) -> list[Any]:
        plan = self._plans.get(conn.dialect.name) or self._plan(conn.dialect)
        args = tuple(
            value if bind is None else bind(value)
            for value, bind in zip((params[name] for name in plan.names), plan.binds, strict=True)
        )
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.cursor()
        try:
            cursor.execute(plan.sql, args)
            raw = [cursor.fetchone()] if one else cursor.fetchall()
        except dbapi.Error as exc:
            raise DBAPIError.instance(plan.sql, args, exc, dbapi.Error) from exc
        finally:
            cursor.close()
        make = self.row._make
        results = plan.results
        return [
            make(v if p is None else p(v) for v, p in zip(row, results, strict=True)) for row in raw if row is not None
        ]

    def _plan(self, dialect: Dialect) -> _Plan:
        if dialect.paramstyle != "qmark":
            raise ValueError(f"placeholders of style {dialect.paramstyle} are not handled here")
        compiled = self.statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.selected_columns
        )
        plan = self._plans[dialect.name] = _Plan(compiled.string, names, binds, results)
        return plan
