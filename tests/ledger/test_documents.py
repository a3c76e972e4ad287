"""ledger.documents.issuing on both databases with the eth-tester registry: issue, bulk issue, anchor, prove, revoke."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

import ledger.documents.issuing
from keys.errors import Forbidden
from keys.generate import generate_signing_key
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from ledger.chain.merkle import compute_root
from ledger.chain.outbox import AnchorLeaf, as_utc
from ledger.chain.proof import RevocationReason
from ledger.documents.errors import DocumentFieldInvalid
from ledger.documents.issuing import (
    DocumentPendingAnchor,
    DocumentRevoked,
    DocumentRow,
    ReplacementInvalid,
    issue_batch,
    issue_document,
    receipt_json,
)
from ledger.documents.numbering import DocumentNumberTaken
from ledger.documents.receipt import Registry, commitment, decode_payload
from ledger.documents.revocation import revoke_document
from ledger.documents.status import get_document, proof_for, replacement_for

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SIGNER = generate_signing_key("ES256")
META = {
    "number": "Số: 2392/qđ-ubnd",
    "title": unicodedata.normalize("NFD", "Về việc   phê duyệt"),  # NFD and a whitespace run: stored NFC and collapsed
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-03-01",  # already "today" in Ho Chi Minh City at 02:00 UTC (09:00 local)
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}


def _issue(session: Session, registry: RegistryClient, account: LocalAccount, **kw: object) -> str:
    fields = {**META, **kw.pop("fields", {})}  # type: ignore[dict-item]
    issued = issue_document(
        session,
        agency_id=str(kw.pop("agency_id", "ubnd-hcm")),
        signer=SIGNER,
        account_address=account.address,
        registry=Registry.of(registry.chain_id, registry.address),
        fields=fields,
        file_bytes=bytes(kw.pop("file", b"decision")),  # type: ignore[call-overload]
        now=NOW,
        public_url="https://x.example/",
    )
    session.commit()
    return issued.id


def _anchor(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    anchorer = Anchorer(engine, registry, {account.address: account}, WorkerConfig(), lambda: NOW)
    for _ in range(5):
        anchorer.step(force=True)


def test_issue_stores_and_queues_in_one_transaction(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine) as s:
        doc_id = _issue(s, registry, account)
        view = get_document(s, doc_id.lower())
        row = view.row
        assert view.status == "pending" and view.proof is None
        assert row.number == "2392/QĐ-UBND"
        assert row.metadata_dict["title"] == "Về việc phê duyệt"
        assert row.sha256 == hashlib.sha256(b"decision").hexdigest()
        assert row.file == b"decision"
        receipt = decode_payload(row.payload, registry=Registry.of(registry.chain_id, registry.address))
        assert commitment(receipt) == row.commitment
        assert s.exec(select(AnchorLeaf).where(AnchorLeaf.data == row.commitment)).one().account == account.address


def test_nothing_is_written_when_the_caller_rolls_back(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    with Session(engine) as s:
        issue_document(
            s,
            agency_id="ubnd-hcm",
            signer=SIGNER,
            account_address=agency_accounts[0].address,
            registry=Registry.of(registry.chain_id, registry.address),
            fields=META,
            file_bytes=b"x",
            now=NOW,
            public_url="https://x.example",
        )
        s.rollback()
        assert s.exec(select(func.count()).select_from(DocumentRow)).one() == 0
        assert s.exec(select(func.count()).select_from(AnchorLeaf)).one() == 0


def test_future_date_in_vietnam_is_refused(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    with Session(engine) as s, pytest.raises(DocumentFieldInvalid):
        _issue(s, registry, agency_accounts[0], fields={"issued_on": "2026-03-02"})


def test_batch_is_all_or_nothing(engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    account = agency_accounts[0]
    reg = Registry.of(registry.chain_id, registry.address)
    items = [({**META, "number": f"{i}/QĐ-UBND"}, b"f%d" % i) for i in range(1, 201)]
    with Session(engine) as s:
        docs = issue_batch(
            s,
            agency_id="ubnd-hcm",
            signer=SIGNER,
            account_address=account.address,
            registry=reg,
            items=items,
            now=NOW,
            public_url="https://x.example",
        )
        s.commit()
        assert len({d.id for d in docs}) == 200
        assert s.exec(select(func.count()).select_from(AnchorLeaf)).one() == 200
        with pytest.raises(DocumentFieldInvalid, match=r"documents\[1\]"):
            issue_batch(
                s,
                agency_id="ubnd-hcm",
                signer=SIGNER,
                account_address=account.address,
                registry=reg,
                items=[items[0], ({**META, "number": "bad"}, b"")],
                now=NOW,
                public_url="https://x.example",
            )
        s.rollback()
        assert s.exec(select(func.count()).select_from(DocumentRow)).one() == 200


def _revoke(s: Session, row: DocumentRow, agency: str = "ubnd-hcm", **kw: object) -> Any:
    args: dict[str, Any] = {"reason": None, "note": None, "replaced_by": None, "now": NOW, **kw}
    return revoke_document(s, row, agency_id=agency, **args)


def test_anchor_proof_revoke_and_supersede(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    with Session(engine, expire_on_commit=False) as s:
        old = _issue(s, registry, account, file=b"old")
        new = _issue(s, registry, account, file=b"new", fields={"number": "2400/QĐ-UBND"})
        row = s.get(DocumentRow, old)
        assert row is not None
        with pytest.raises(DocumentPendingAnchor):
            _revoke(s, row, reason="annulled")
    _anchor(engine, registry, account)
    with Session(engine, expire_on_commit=False) as s:
        view = get_document(s, old)
        assert view.status == "anchored" and view.proof is not None
        proof = proof_for(s, view.row.commitment)
        assert proof == view.proof
        assert compute_root(proof.leaf, proof.path) == proof.root
        chain = registry
        assert chain.status(account.address, proof.root, proof.leaf).anchorer == account.address
        assert proof_for(s, bytes(32)) is None
        assert replacement_for(s, get_document(s, new).row.commitment) == {"document_id": new, "number": "2400/QĐ-UBND"}

        row = view.row
        with pytest.raises(Forbidden):
            _revoke(s, row, agency="ubnd-q1", reason="error")
        with pytest.raises(ReplacementInvalid):
            _revoke(s, row, reason="error", replaced_by=new)
        with pytest.raises(ReplacementInvalid):
            _revoke(s, row, replaced_by=old)
        recorded = _revoke(s, row, note="thay thế", replaced_by=new)
        s.commit()
        # Recorded, not yet on chain: still anchored, the revocation on its way.
        assert recorded.status == "anchored" and recorded.revocation is not None
        assert recorded.revocation.state == "built"
        assert chain.status(account.address, proof.root, proof.leaf).reason == RevocationReason.NONE
    _anchor(engine, registry, account)
    with Session(engine, expire_on_commit=False) as s:
        done = get_document(s, old)
        assert done.status == "superseded"
        status = chain.status(account.address, proof.root, proof.leaf)
        assert status.reason == RevocationReason.REPLACED
        assert status.replaced_by == get_document(s, new).row.commitment
        with pytest.raises(DocumentRevoked):
            _revoke(s, done.row, reason="other")


def test_revocation_already_on_chain_is_adopted(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """Revoked on chain by other means (by hand, or by the city admin) before the worker sends it: adopted."""
    account = agency_accounts[0]
    with Session(engine, expire_on_commit=False) as s:
        doc = _issue(s, registry, account)
    _anchor(engine, registry, account)
    with Session(engine, expire_on_commit=False) as s:
        view = get_document(s, doc)
        assert view.proof is not None
        registry.revoke(account, view.proof.root, view.proof.leaf, view.proof.path, int(RevocationReason.ANNULLED))
        _revoke(s, view.row, reason="annulled", now=NOW + timedelta(seconds=1))
        s.commit()
    _anchor(engine, registry, account)
    with Session(engine, expire_on_commit=False) as s:
        done = get_document(s, doc)
        assert done.status == "revoked" and done.revocation is not None
        assert (
            done.revocation.tx_hash
            == "0x" + (registry.find_revoke_tx(account.address, view.proof.root, view.proof.leaf) or b"").hex()
        )


def test_batch_rows_and_answers_match_the_single_issue(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    # issue_batch writes through the driver; issue_document goes through the ORM. Both must store and answer the
    # same things.
    account = agency_accounts[0]
    reg = Registry.of(registry.chain_id, registry.address)
    now = NOW.replace(microsecond=123456)
    # COPY's text format gives backslash, tab, newline and \N meanings: stored as given, never as a NULL or a tab.
    title = 'Về "kế hoạch" \\ số 2, \\N, \\t\\n và \\\\.'
    quoted = {**META, "number": "2394/QĐ-UBND", "title": title, "signing_form": "kt"}
    raw = b"\\N\t\n\r\x00\\.\xff" + bytes(range(256))
    with Session(engine) as s:
        single = issue_document(
            s,
            agency_id="ubnd-hcm",
            signer=SIGNER,
            account_address=account.address,
            registry=reg,
            fields=META,
            file_bytes=b"one",
            now=now,
            public_url="https://x.example",
        )
        batch = issue_batch(
            s,
            agency_id="ubnd-hcm",
            signer=SIGNER,
            account_address=account.address,
            registry=reg,
            items=[
                ({**META, "number": "2393/QĐ-UBND"}, b"two"),
                (quoted, b""),
                ({**META, "number": "2395/QĐ-UBND"}, raw),
            ],
            now=now,
            public_url="https://x.example",
        )
        s.commit()
    with Session(engine) as s:
        rows = {d.id: get_document(s, d.id) for d in (single, *batch)}
        for issued in (single, *batch):
            row = rows[issued.id].row
            assert issued.receipt == receipt_json(row.receipt(), row.payload)
            assert row.metadata_json == json.dumps(issued.metadata, ensure_ascii=False, sort_keys=True)
            assert row.metadata_dict == issued.metadata and row.sha256 == issued.sha256
            assert as_utc(row.created_at) == now and row.receipt().issued_at == NOW
            assert (row.chain_id, row.contract, row.account) == (reg.chain_id, reg.hex_address, account.address)
            assert row.revoked_at is None and row.revocation_reason is None
            assert row.number_year == 2026 and row.number == issued.metadata["number"]
            assert issued.verify_url == "https://x.example/v#" + row.payload
        assert rows[batch[1].id].row.file == b"" and rows[batch[1].id].row.file_size == 0
        assert rows[batch[1].id].row.metadata_dict["signing_form"] == "KT."
        assert rows[single.id].row.metadata_dict["signing_form"] is None
        assert rows[batch[0].id].row.file == b"two" and rows[batch[0].id].row.filename is None
        assert rows[batch[1].id].row.metadata_dict["title"] == title
        assert rows[batch[2].id].row.file == raw and rows[batch[2].id].row.file_size == len(raw)


def test_a_number_taken_between_the_check_and_the_bulk_insert_is_refused_typed(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another issue takes a number after ``issue_batch`` looked it up: its driver-level bulk insert meets the unique
    index, and the answer is ``DOC_NUMBER_TAKEN``, never a raw driver error."""
    account = agency_accounts[0]
    with Session(engine) as s:
        _issue(s, registry, account)
        s.commit()
    monkeypatch.setattr(ledger.documents.issuing, "find_issued", lambda *_args: {})  # the check saw the number free
    with Session(engine) as s, pytest.raises(DocumentNumberTaken):
        issue_batch(
            s,
            agency_id="ubnd-hcm",
            signer=SIGNER,
            account_address=account.address,
            registry=Registry.of(registry.chain_id, registry.address),
            items=[(META, b"another file")],
            now=NOW,
            public_url="https://x.example",
        )
