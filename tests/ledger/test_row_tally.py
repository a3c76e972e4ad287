"""``RowTally`` (ledger/tally.py), the counts ``/metrics`` reports of documents by agency and of all batches: equal
to a full count of the table at every step, late commits within ``settle`` included, while only the rows above the
mark are read again."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.chain.outbox import AnchorBatch
from ledger.documents.receipt import document_id_str, new_document_id
from ledger.documents.table import DocumentRow
from ledger.tally import RowTally

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
SETTLE = timedelta(minutes=10)
RECOUNT = timedelta(hours=1)
AGENCIES = ["ubnd-hcm", "ubnd-q1", "so-tp"]


def _document(agency: str, minted: datetime, rng: random.Random) -> DocumentRow:
    """A document row as issuing writes it: its id minted at ``minted``, which is also its ``created_at``."""
    doc_id = document_id_str(new_document_id(minted, rng.randbytes))
    return DocumentRow(
        id=doc_id,
        agency_id=agency,
        number=f"{doc_id}/QĐ-UBND",
        number_year=2026,
        metadata_json="{}",
        sha256="00" * 32,
        payload="X",
        commitment=hashlib.sha256(doc_id.encode()).digest(),
        account="0x" + "a" * 40,
        chain_id=31337,
        contract="0x" + "b" * 40,
        created_at=minted,
    )


def _batch(created: datetime, rng: random.Random, state: str = "final") -> AnchorBatch:
    return AnchorBatch(
        account="0x" + "a" * 40, state=state, root=rng.randbytes(32), count=1, tree=b"t", created_at=created
    )


def _store(engine: Engine, row: Any) -> None:
    with Session(engine) as s:
        s.add(row)
        s.commit()


def _tally(engine: Engine, tally: RowTally, now: datetime) -> Counter[str]:
    with Session(engine) as s:
        return tally.counts(s, now)


def _full_documents(engine: Engine) -> Counter[str]:
    with Session(engine) as s:
        query = select(DocumentRow.agency_id, func.count()).group_by(col(DocumentRow.agency_id))
        return Counter({agency: int(n) for agency, n in s.exec(query).all()})


def _all_batches(engine: Engine) -> Counter[str]:
    with Session(engine) as s:
        n = s.exec(select(func.count()).select_from(AnchorBatch)).one()
        return Counter({"": n}) if n else Counter()


def test_documents_by_agency_equal_a_full_count_at_every_step_late_commits_within_settle_included(
    engine: Engine,
) -> None:
    # Two and a half hours of scrapes 15 s to 5 min apart, documents of three agencies in between; one in four is
    # committed late: its id (and created_at) minted up to 9 minutes before its commit (a long batch, a slow
    # transaction). The full count every hour is crossed twice.
    rng = random.Random(20261202)
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id, settle=SETTLE, recount=RECOUNT)
    now = T0
    assert _tally(engine, tally, now) == Counter()
    for _ in range(120):
        for _ in range(rng.randrange(0, 4)):
            late = timedelta(seconds=rng.randrange(1, 540)) if rng.random() < 0.25 else timedelta(0)
            _store(engine, _document(rng.choice(AGENCIES), now - late, rng))
        assert _tally(engine, tally, now) == _full_documents(engine), now
        now += timedelta(seconds=rng.choice([15, 15, 15, 60, 300]))


def test_all_batches_equal_a_full_count_at_every_step(engine: Engine) -> None:
    rng = random.Random(11)
    tally = RowTally(AnchorBatch, settle=SETTLE, recount=RECOUNT)
    now = T0
    assert _tally(engine, tally, now) == Counter()
    for _ in range(80):
        for _ in range(rng.randrange(0, 3)):
            _store(engine, _batch(now, rng))
        assert _tally(engine, tally, now) == _all_batches(engine), now
        now += timedelta(seconds=rng.choice([15, 60, 300]))


def test_a_batch_that_took_its_id_first_and_commits_later_within_settle_is_counted(engine: Engine) -> None:
    # A sequence hands out ids in the order transactions ask, not the order they commit: the first transaction
    # takes its id, a second one takes the next and commits, and the first commits minutes later.
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: a second transaction cannot commit while the first is open")
    rng = random.Random(13)
    tally = RowTally(AnchorBatch, settle=SETTLE, recount=RECOUNT)
    _store(engine, _batch(T0 - timedelta(hours=1), rng))
    assert _tally(engine, tally, T0)[""] == 1
    slow = Session(engine)
    slow.add(_batch(T0, rng))
    slow.flush()  # its id taken, not committed
    _store(engine, _batch(T0 + timedelta(seconds=30), rng))
    assert _tally(engine, tally, T0 + timedelta(minutes=5))[""] == 2
    slow.commit()  # 9 minutes after it took its id, within settle
    slow.close()
    assert _tally(engine, tally, T0 + timedelta(minutes=9, seconds=15))[""] == 3 == _all_batches(engine)[""]
    assert _tally(engine, tally, T0 + timedelta(minutes=12))[""] == 3  # the mark past all three


def test_a_commit_later_than_settle_is_missed_only_until_the_next_full_count(engine: Engine) -> None:
    rng = random.Random(7)
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id, settle=SETTLE, recount=RECOUNT)
    _store(engine, _document("ubnd-hcm", T0, rng))
    _store(engine, _document("ubnd-hcm", T0 + timedelta(minutes=6), rng))
    assert _tally(engine, tally, T0 + timedelta(minutes=30))["ubnd-hcm"] == 2  # the mark: the row of T0 + 6 min
    _store(engine, _document("ubnd-hcm", T0 + timedelta(minutes=5), rng))  # minted 25 minutes before its commit
    assert _tally(engine, tally, T0 + timedelta(minutes=31))["ubnd-hcm"] == 2  # below the mark: the stated bound
    assert _tally(engine, tally, T0 + timedelta(minutes=89))["ubnd-hcm"] == 2
    assert _tally(engine, tally, T0 + timedelta(minutes=30) + RECOUNT)["ubnd-hcm"] == 3  # the next full count


def test_a_clock_that_went_back_gets_a_full_count(engine: Engine) -> None:
    rng = random.Random(3)
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id, settle=SETTLE, recount=RECOUNT)
    _store(engine, _document("ubnd-hcm", T0, rng))
    assert _tally(engine, tally, T0 + timedelta(minutes=30))["ubnd-hcm"] == 1
    _store(engine, _document("ubnd-hcm", T0 - timedelta(minutes=1), rng))  # below the mark
    assert _tally(engine, tally, T0 + timedelta(minutes=2))["ubnd-hcm"] == 2


def test_two_scrapes_at_once_agree_with_a_full_count(engine: Engine) -> None:
    rng = random.Random(17)
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id, settle=SETTLE, recount=RECOUNT)
    for k in range(40):
        _store(engine, _document(AGENCIES[k % 3], T0 + timedelta(seconds=k), rng))
    want = _full_documents(engine)
    got: list[Counter[str]] = []

    def scrape(k: int) -> None:
        got.append(_tally(engine, tally, T0 + timedelta(minutes=20, seconds=k)))

    threads = [threading.Thread(target=scrape, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 8


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL sent about ``ledger_document`` while the block runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ledger_document" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_after_the_first_count_only_the_rows_above_the_mark_are_read(engine: Engine) -> None:
    rng = random.Random(5)
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id, settle=SETTLE, recount=RECOUNT)
    for k in range(5):
        _store(engine, _document("ubnd-hcm", T0 + timedelta(minutes=k), rng))
    with _statements(engine) as first:
        assert _tally(engine, tally, T0 + timedelta(minutes=20))["ubnd-hcm"] == 5
    assert any("ledger_document.id >" not in s for s in first)  # the full count: no lower bound
    with _statements(engine) as later:
        for k in range(1, 20):
            assert _tally(engine, tally, T0 + timedelta(minutes=20, seconds=15 * k))["ubnd-hcm"] == 5
    # Every later read has the mark as its lower bound: a range of the primary key, never the whole table.
    assert later
    assert all("ledger_document.id >" in s for s in later), later
