"""Bulk inserts through the database driver's own ``executemany``, for the ledger's bulk paths (issuing a batch of
documents, enqueueing their leaves): the ORM's per-row work would dominate them (``make bench``, documents).

``tests/ledger/test_documents.py::test_batch_rows_and_answers_match_the_single_issue`` holds the bulk path equal to
the ORM's, and ``tests/ledger/test_outbox.py`` the bulk leaves equal to single ones.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

__all__ = ["bound_value", "executemany"]


def bound_value(session: Session, column: Any, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing, done once)."""
    processor = column.type.bind_processor(session.get_bind().dialect)
    return processor(value) if processor is not None else value


def executemany(session: Session, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Inserts ``rows`` with ``sql`` (``{p}`` marks each placeholder) in one driver-level ``executemany``."""
    connection = session.connection()
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(sql.format(p=placeholder), rows)
