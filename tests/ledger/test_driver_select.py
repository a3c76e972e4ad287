"""``ledger._driver_select.DriverSelect`` gives what SQLAlchemy gives for the same statement: the three statements a
verification runs on every request, over rows that cover their columns' types and NULLs (outer joins that found
nothing), on SQLite (the driver's cursor) and on PostgreSQL (SQLAlchemy itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from ledger._driver_select import DriverSelect
from ledger.chain.index import _STATUS, ChainCursor, IndexedAnchor, IndexedRevocation
from ledger.chain.outbox import AnchorBatch
from ledger.documents.issuing import DocumentRow
from ledger.offices import add_office
from ledger.offices.register import _ENTRIES
from tests.ledger.test_offices_register import NOW, WRITER, _appoint, _issue, confirm_all
from xacthuc.server_verifier import _DOCUMENT

CONTRACT = "0x" + "11" * 20
AGENCY = "0x" + "22" * 20


def _same(conn: Connection, query: DriverSelect, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows both ways, as plain tuples, after checking that they are equal and named alike."""
    ours = query.all(conn, params)
    theirs = conn.execute(query.statement, params).all()
    assert [tuple(r) for r in ours] == [tuple(r) for r in theirs]
    assert [r._fields for r in ours] == [tuple(r._fields) for r in theirs]
    first = query.first(conn, params)
    assert (first is None and not theirs) or tuple(first) == tuple(theirs[0])
    return [tuple(r) for r in theirs]


@pytest.fixture
def filled(engine: Engine) -> Engine:
    with Session(engine, expire_on_commit=False) as s:
        _appoint(s)  # two register entries
        confirm_all(s)  # anchored
        anchored = _issue(s, number="1/QĐ-UBND")
        confirm_all(s)
        add_office(s, WRITER, {"title": "Ủy viên", "holder": "Lê Văn Cường", "from": "2023-05-01"}, NOW)
        s.commit()  # a third entry, still waiting: its batch columns are NULL
        waiting = _issue(s, number="2/QĐ-UBND")
        revoked = s.get(DocumentRow, anchored)
        assert revoked is not None
        revoked.revoked_at, revoked.revocation_reason, revoked.replaced_by = NOW, "superseded", waiting
        s.add(revoked)
        batch = s.exec(select(AnchorBatch).order_by(AnchorBatch.id)).first()  # type: ignore[arg-type]
        assert batch is not None
        s.add(ChainCursor(contract=CONTRACT, chain_id=31337, block=120, block_hash="0x" + "cd" * 32, updated_at=NOW))
        s.add(ChainCursor(contract="0x" + "33" * 20, chain_id=31337, block=5))  # never synced: updated_at NULL
        s.add(IndexedAnchor(agency=AGENCY, root=batch.root, anchored_at=NOW, count=2, block=110, tx="0x" + "ab" * 32))
        s.add(
            IndexedRevocation(
                agency=AGENCY, root=batch.root, data=b"\x07" * 32, reason=2, revoked_at=NOW + timedelta(1), block=111
            )
        )
        s.commit()
    return engine


def test_the_document_rows_are_sqlalchemys(filled: Engine) -> None:
    with filled.connect() as conn:
        leaves = [bytes(r[0]) for r in conn.execute(select(DocumentRow.commitment)).all()]
        assert len(leaves) == 2
        rows = [_same(conn, _DOCUMENT, {"leaf": leaf}) for leaf in [*leaves, b"\x00" * 32]]
    assert [len(r) for r in rows] == [1, 1, 0]
    assert {r[0][4] for r in rows[:2]} == {"confirmed", None}  # one anchored, one waiting (outer join: NULLs)
    revoked = next(r[0] for r in rows[:2] if r[0][9] is not None)
    assert revoked[9].replace(tzinfo=UTC) == NOW and revoked[10] == "superseded"  # a datetime, as SQLAlchemy's


def test_the_index_rows_are_sqlalchemys(filled: Engine) -> None:
    with filled.connect() as conn:
        root = conn.execute(select(AnchorBatch.root).order_by(AnchorBatch.id)).scalars().first()  # type: ignore[arg-type]
        base = {"agency": AGENCY, "root": bytes(root or b""), "contract": CONTRACT, "chain_id": 31337}
        hit = _same(conn, _STATUS, {**base, "data": b"\x07" * 32})
        no_revocation = _same(conn, _STATUS, {**base, "data": b"\x08" * 32})
        no_anchor = _same(conn, _STATUS, {**base, "agency": "0x" + "44" * 20, "data": b"\x07" * 32})
        unsynced = _same(conn, _STATUS, {**base, "contract": "0x" + "33" * 20, "data": b"\x07" * 32})
        nothing = _same(conn, _STATUS, {**base, "chain_id": 1, "data": b"\x07" * 32})
    assert hit[0][0] == 120 and hit[0][4] == 2 and isinstance(hit[0][5], datetime)
    assert no_revocation[0][4:] == (None, None, None) and no_anchor[0][2:] == (None,) * 5
    assert unsynced[0][:2] == (5, None) and nothing == []


def test_the_register_rows_are_sqlalchemys(filled: Engine) -> None:
    with filled.connect() as conn:
        rows = _same(conn, _ENTRIES, {"agency": "ubnd-q3"})
        assert _same(conn, _ENTRIES, {"agency": "ubnd-none"}) == []
    assert [r[0] for r in rows] == [1, 2, 3]  # in seq order
    assert [r[9] for r in rows] == ["confirmed", "confirmed", None]  # the third still waits


def test_a_driver_error_is_sqlalchemys(filled: Engine) -> None:
    with filled.connect() as conn:
        conn.execute(text("DROP TABLE ledger_chain_revocation"))
        with pytest.raises(DBAPIError):  # SQLAlchemy's (sqlite3's OperationalError, psycopg's UndefinedTable inside)
            _STATUS.first(
                conn, {"agency": AGENCY, "root": b"\0" * 32, "data": b"\0" * 32, "contract": CONTRACT, "chain_id": 1}
            )
