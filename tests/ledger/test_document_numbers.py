"""Unique numbers (issue 10): a number is unique per issuing agency and calendar year of ``issued_on``; a second
document with it is refused 409 ``DOC_NUMBER_TAKEN`` naming the holder, unless it is the same request repeated (the
same number and file: the existing document is answered). The database enforces it (migration 0011's unique index),
old duplicates do not break the migration, and ``find_issued`` reads the same column. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from keys.generate import generate_signing_key
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import AnchorLeaf
from ledger.documents.issuing import DocumentRow, IssuedDocument, issue_batch, issue_document
from ledger.documents.numbering import DocumentNumberDuplicate, DocumentNumberTaken, find_issued
from ledger.documents.receipt import Registry
from tests.ledger._issuing_api import META, Api, issuing_api
from xacthuc.database import make_engine, migrate

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SIGNER = generate_signing_key("ES256")


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    yield from issuing_api(engine, tmp_path, registry)


def _issue(
    s: Session, registry: RegistryClient, account: LocalAccount, file: bytes, agency: str = "ubnd-hcm", **fields: str
) -> IssuedDocument:
    return issue_document(
        s,
        agency_id=agency,
        signer=SIGNER,
        account_address=account.address,
        registry=Registry.of(registry.chain_id, registry.address),
        fields={**META, **fields},
        file_bytes=file,
        now=NOW,
        public_url="https://x.example",
    )


def _batch(
    s: Session, registry: RegistryClient, account: LocalAccount, items: list[tuple[dict[str, str], bytes]]
) -> list[IssuedDocument]:
    return issue_batch(
        s,
        agency_id="ubnd-hcm",
        signer=SIGNER,
        account_address=account.address,
        registry=Registry.of(registry.chain_id, registry.address),
        items=[({**META, **fields}, data) for fields, data in items],
        now=NOW,
        public_url="https://x.example",
    )


def _count(s: Session, table: Any = DocumentRow) -> int:
    return int(s.exec(select(func.count()).select_from(table)).one())


# ------------------------------------------------------------------------------------------------------- domain
def test_number_is_unique_per_agency_and_year(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        first = _issue(s, registry, account, b"first")
        s.commit()
        with pytest.raises(DocumentNumberTaken) as info:
            _issue(s, registry, account, b"second", number="Số: 2392/qd-ubnd")  # the same number, typed otherwise
        s.rollback()
        error = info.value
        assert (error.code, error.http_status, error.field) == ("DOC_NUMBER_TAKEN", 409, "number")
        assert error.document_id == first.id and first.id in error.message and "2024" in error.message
        assert _count(s) == 1 and _count(s, AnchorLeaf) == 1


def test_same_number_in_another_year_or_by_another_agency_is_free(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        first = _issue(s, registry, account, b"2024")
        next_year = _issue(s, registry, account, b"2025", issued_on="2025-01-02")
        other_agency = _issue(s, registry, account, b"q5", agency="ubnd-q5")
        s.commit()
        assert len({first.id, next_year.id, other_agency.id}) == 3
        rows = {r.id: r for r in s.exec(select(DocumentRow)).all()}
        assert rows[first.id].number_year == 2024 and rows[next_year.id].number_year == 2025


def test_same_number_and_file_answers_the_existing_document(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        first = _issue(s, registry, account, b"decision")
        s.commit()
        again = _issue(s, registry, account, b"decision", number="2392/QD-UBND")
        s.commit()
        assert again.existing and not first.existing and again.id == first.id
        assert (again.payload, again.receipt, again.metadata, again.verify_url) == (
            first.payload,
            first.receipt,
            first.metadata,
            first.verify_url,
        )
        assert [n.code for n in again.notices] == ["DOC_NUMBER_NORMALISED", "DOC_ALREADY_ISSUED"]
        assert _count(s) == 1 and _count(s, AnchorLeaf) == 1


def test_batch_with_a_duplicate_inside_is_refused_naming_the_items(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    items = [({"number": "1/QĐ-UBND"}, b"a"), ({"number": "2/QĐ-UBND"}, b"b"), ({"number": "1/QD-UBND"}, b"a")]
    with Session(engine) as s:
        with pytest.raises(DocumentNumberDuplicate) as info:
            _batch(s, registry, agency_accounts[0], items)
        assert (info.value.first, info.value.second) == (0, 2) and info.value.code == "DOC_NUMBER_DUPLICATE"
        assert info.value.message.startswith("documents[2]: ") and "documents[0]" in info.value.message
        s.rollback()
        assert _count(s) == 0
        # the same number in two different years is two numbers
        issued = _batch(s, registry, agency_accounts[0], [items[0], ({**items[2][0], "issued_on": "2025-01-02"}, b"c")])
        assert len(issued) == 2


def test_batch_against_the_database_is_refused_naming_the_item_and_document(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        held = _issue(s, registry, account, b"held", number="2/QĐ-UBND")
        s.commit()
        with pytest.raises(DocumentNumberTaken) as info:
            _batch(s, registry, account, [({"number": "1/QĐ-UBND"}, b"a"), ({"number": "2/QĐ-UBND"}, b"other")])
        s.rollback()
        assert info.value.item == 1 and info.value.document_id == held.id
        assert info.value.message.startswith("documents[1]: ") and held.id in info.value.message
        assert _count(s) == 1  # all or nothing


def test_batch_repeated_answers_the_existing_documents(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    items = [({"number": f"{i}/QĐ-UBND"}, b"file %d" % i) for i in range(1, 4)]
    with Session(engine) as s:
        first = _batch(s, registry, account, items[:2])
        s.commit()
        again = _batch(s, registry, account, items)  # a retry that also carries one new document
        s.commit()
        assert [d.existing for d in again] == [True, True, False]
        assert [d.id for d in again[:2]] == [d.id for d in first]
        assert _count(s) == 3 and _count(s, AnchorLeaf) == 3


def test_database_index_refuses_a_second_number_past_the_check(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    # The unique index decides, whatever the code checks first.
    with Session(engine) as s:
        first = _issue(s, registry, agency_accounts[0], b"first")
        s.commit()
        row = s.get(DocumentRow, first.id)
        assert row is not None
        copy = {c: getattr(row, c) for c in DocumentRow.model_fields}
        copy.update(id="0" * 26, commitment=b"\x01" * 32, sha256=hashlib.sha256(b"x").hexdigest())
        s.add(DocumentRow(**copy))
        with pytest.raises(IntegrityError):
            s.flush()


def test_concurrent_issue_of_one_number_lets_one_through(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    # Both pass the check; the index holds the second insert until the first commits, then refuses it. The loser
    # cannot read in its failed transaction; a retry names the winner.
    account = agency_accounts[0]
    outcome: list[BaseException | IssuedDocument] = []

    def second() -> None:
        with Session(engine) as s2:
            try:
                outcome.append(_issue(s2, registry, account, b"second"))
                s2.commit()
            except Exception as exc:
                outcome.append(exc)

    with Session(engine) as s1:
        winner = _issue(s1, registry, account, b"first")  # flushed: holds the number, not committed
        thread = threading.Thread(target=second)
        thread.start()
        if engine.dialect.name == "postgresql":  # wait until the second insert waits on the index
            deadline = time.monotonic() + 30
            with engine.connect() as c:
                while not c.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                    assert time.monotonic() < deadline, "the second insert never waited"
                    c.rollback()
        s1.commit()
        thread.join(60)
    [lost] = outcome
    assert isinstance(lost, DocumentNumberTaken), lost
    with Session(engine) as s:
        assert _count(s) == 1
        with pytest.raises(DocumentNumberTaken) as info:
            _issue(s, registry, account, b"second")
        assert info.value.document_id == winner.id


def test_find_issued_reads_number_year(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        a = _issue(s, registry, account, b"a")
        b = _issue(s, registry, account, b"b", issued_on="2025-01-02")
        s.commit()
        wanted = [("2392/QĐ-UBND", 2024), ("2392/QĐ-UBND", 2025), ("2392/QĐ-UBND", 2026), ("9/QĐ-UBND", 2024)]
        assert find_issued(s, "ubnd-hcm", wanted) == {
            ("2392/QĐ-UBND", 2024): (a.id, a.sha256),
            ("2392/QĐ-UBND", 2025): (b.id, b.sha256),
        }
        assert find_issued(s, "ubnd-q5", wanted) == {} and find_issued(s, "ubnd-hcm", []) == {}


def test_find_issued_over_several_queries_finds_each_held_number(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """1,200 numbers take three queries (500 a query; on PostgreSQL one array parameter each): the held ones are found
    in whichever query they fall, numbers that only look alike are not."""
    with Session(engine) as s:
        items = [({"number": f"{n}/QĐ-UBND"}, b"%d" % n) for n in (1, 700, 1199)]
        held = _batch(s, registry, agency_accounts[0], items)
        s.commit()
        wanted = [(f"{n}/QĐ-UBND", 2024) for n in range(1200)] + [("1/QĐ-UBND%", 2024), ("1/QĐ-UBN", 2024)]
        assert find_issued(s, "ubnd-hcm", wanted) == {
            (f"{n}/QĐ-UBND", 2024): (doc.id, doc.sha256) for n, doc in zip((1, 700, 1199), held, strict=True)
        }


# ---------------------------------------------------------------------------------------------------- migration
def _old_row(conn: Any, doc_id: str, number: str, issued_on: str, created: str, agency: str = "ubnd-hcm") -> None:
    conn.execute(
        text(
            "INSERT INTO ledger_document (id, agency_id, number, metadata_json, sha256, file_size, payload, commitment,"
            " account, chain_id, contract, created_at) VALUES (:id, :agency, :number, :meta, :sha, 0, 'XD1:x', :leaf,"
            " '0x00', 1, '0x00', :created)"
        ),
        {
            "id": doc_id,
            "agency": agency,
            "number": number,
            "meta": f'{{"issued_on": "{issued_on}", "number": "{number}"}}',
            "sha": "0" * 64,
            "leaf": hashlib.sha256(doc_id.encode()).digest(),
            "created": datetime.fromisoformat(created),
        },
    )


def test_migration_keeps_old_duplicates_out_of_the_index(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, "0010")
        with engine.begin() as conn:  # numbers taken twice before they were refused
            _old_row(conn, "B" * 26, "5/QĐ-UBND", "2024-03-01", "2024-03-01T10:00:00+00:00")
            _old_row(conn, "A" * 26, "5/QĐ-UBND", "2024-04-01", "2024-04-01T10:00:00+00:00")  # the later one
            _old_row(conn, "C" * 26, "5/QĐ-UBND", "2025-01-05", "2025-01-05T10:00:00+00:00")  # another year
            _old_row(conn, "D" * 26, "5/QĐ-UBND", "2024-05-01", "2024-05-01T10:00:00+00:00", agency="ubnd-q5")
        migrate(engine)
        with Session(engine) as s:
            years = dict(s.exec(select(DocumentRow.id, DocumentRow.number_year)).all())
            assert years == {"B" * 26: 2024, "A" * 26: None, "C" * 26: 2025, "D" * 26: 2024}
            found = find_issued(s, "ubnd-hcm", [("5/QĐ-UBND", 2024)])
            assert found == {("5/QĐ-UBND", 2024): ("B" * 26, "0" * 64)}  # the first holds the number
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------------- HTTP
def test_post_documents_second_number_is_409_naming_the_document(api: Api) -> None:
    first = api.issue(b"first")
    assert first.status_code == 201, first.text
    r = api.issue(b"second")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "DOC_NUMBER_TAKEN" and error["field"] == "number"
    assert first.json()["id"] in error["message"]
    assert api.issue(b"second", agency="ubnd-q5").status_code == 201  # another agency's numbers are its own


def test_post_documents_same_request_repeated_answers_the_existing_document(api: Api) -> None:
    first = api.issue(b"decision")
    again = api.issue(b"decision")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    body = again.json()
    assert body["existing"] is True and first.json()["existing"] is False
    assert body["id"] == first.json()["id"] and body["receipt"] == first.json()["receipt"]
    assert body["status"] == "pending" and [n["code"] for n in body["notices"]] == ["DOC_ALREADY_ISSUED"]


def test_post_batch_duplicates_are_refused_naming_the_item(api: Api) -> None:
    held = api.issue(b"held", number="2/QĐ-UBND").json()["id"]
    r = api.batch([({"number": "1/QĐ-UBND"}, b"a"), ({"number": "2/QĐ-UBND"}, b"b")])
    assert r.status_code == 409 and r.json()["error"]["code"] == "DOC_NUMBER_TAKEN", r.text
    assert r.json()["error"]["message"].startswith("documents[1]: ") and held in r.json()["error"]["message"]
    r = api.batch([({"number": "1/QĐ-UBND"}, b"a"), ({"number": "1/QĐ-UBND"}, b"b")])
    assert r.status_code == 422 and r.json()["error"]["code"] == "DOC_NUMBER_DUPLICATE", r.text
    all_again = api.batch([({"number": "2/QĐ-UBND"}, b"held")])
    assert all_again.status_code == 200 and all_again.json()["documents"][0]["id"] == held
