"""Bulk writes below the ORM, for the ledger's bulk paths (issuing a batch of documents, enqueueing their leaves,
placing leaves in a batch): the ORM's per-row work would dominate them (``make bench``, documents).

``insert_many`` streams the rows through PostgreSQL's ``COPY ... FROM STDIN`` (psycopg's writer, in C): the server
parses no statement per row, which against the driver's pipelined ``executemany`` took bulk issuance into a durable
PostgreSQL from 6,699 to 8,634 documents/s (medians of 8 interleaved rounds of 5,000, docs/benchmarks.md). SQLite
gets the driver's ``executemany``, which is already one C loop. Either way a unique index refusing a row raises
SQLAlchemy's ``IntegrityError``, as the ORM would.

``tests/ledger/test_documents.py::test_batch_rows_and_answers_match_the_single_issue`` holds the bulk path equal to
the ORM's (text and bytes that ``COPY`` must escape included), and ``tests/ledger/test_outbox.py`` the bulk leaves
equal to single ones, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

__all__ = ["among", "bound_value", "executemany", "insert_many"]


def among(session: Session, column: Any, values: Sequence[Any], item_type: TypeEngine[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(%s)``, one array parameter of ``item_type``.

    SQLAlchemy expands an IN list into one placeholder per value, and psycopg parses the long statement afresh each
    time (it caches none that long): for 1,000 values 14 ms of CPU against 1.2-2.9 ms as an array (docs/benchmarks.md).
    On SQLite an IN list costs 2 ms per 1,000 and stays; it takes at most 32,766 values.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def bound_value(session: Session, column: Any, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing, done once)."""
    processor = column.type.bind_processor(session.get_bind().dialect)
    return processor(value) if processor is not None else value


def executemany(session: Session, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Runs ``sql`` (``{p}`` marks each placeholder) once per row in one driver-level ``executemany``."""
    connection = session.connection()
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(sql.format(p=placeholder), list(rows))


def insert_many(session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Inserts ``rows`` (values in the order of ``columns``, as the driver binds them) into ``table``, in the
    session's transaction: ``COPY`` on PostgreSQL through psycopg, ``executemany`` otherwise."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        _copy(connection, table, columns, rows)
        return
    quote = connection.dialect.identifier_preparer.quote
    names, marks = ", ".join(quote(c) for c in columns), ", ".join(["{p}"] * len(columns))
    executemany(session, f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)  # noqa: S608 - quoted names


def _copy(connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    import psycopg
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.Error as exc:  # as SQLAlchemy would raise it: IntegrityError for a unique index, and so on
        raise DBAPIError.instance(
            statement.as_string(driver), None, exc, psycopg.Error, dialect=connection.dialect
        ) from exc
