"""The register of offices and delegations (``ledger.offices``) on both databases: each change a signed entry queued
in the anchoring outbox like a document's leaf, and issuing refused (typed, 422) when the register does not cover the
signer, over the domain function and over HTTP. An agency that keeps no register issues as before."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keys.generate import generate_signing_key
from keys.jws import verify_jws
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, cut_batches
from ledger.documents.issuing import issue_batch, issue_document
from ledger.documents.receipt import Registry
from ledger.offices import (
    DelegationAlreadyRevoked,
    DelegationExpired,
    DelegationNotFound,
    OfficeAlreadyEnded,
    OfficeEntryPending,
    OfficeNotFound,
    SignerNotInOffice,
    SigningFormNotAllowed,
    Writer,
    add_delegation,
    add_office,
    end_office,
    entries_of,
    read_entry,
    register_json,
    revoke_delegation,
)
from tests.ledger._issuing_api import Api, issuing_api

NOW = datetime(2024, 7, 20, 2, 0, tzinfo=UTC)
SIGNER = generate_signing_key("ES256")
ACCOUNT = "0x" + "22" * 20
REGISTRY = Registry.of(31337, "0x" + "11" * 20)
WRITER = Writer("ubnd-q3", SIGNER, ACCOUNT, REGISTRY)
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Quận 3",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Trần Thị Bình",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}
_blocks = itertools.count(100)


def confirm_all(session: Session, now: datetime = NOW) -> None:
    """What the worker does once the chain confirms: every waiting leaf cut into a batch, the batch confirmed."""
    for cut in cut_batches(session, now, batch_max=1024, interval=timedelta(0), force=True):
        batch = session.get(AnchorBatch, cut.id)
        assert batch is not None
        batch.state, batch.tx_hash, batch.block_number = "confirmed", "0x" + "ab" * 32, next(_blocks)
        batch.anchored_at = now
        session.add(batch)
    session.commit()


def _appoint(session: Session, writer: Writer = WRITER) -> None:
    add_office(
        session,
        writer,
        {"title": "Chủ tịch", "holder": "Nguyễn Văn An", "from": "2023-01-01", "head": True, "collective": True},
        NOW,
    )
    add_office(
        session,
        writer,
        {"title": "Phó Chủ tịch", "holder": "Trần Thị Bình", "from": "2023-03-01", "deputy_of": "o1"},
        NOW,
    )
    session.commit()


def _issue(session: Session, **fields: Any) -> str:
    issued = issue_document(
        session,
        agency_id="ubnd-q3",
        signer=SIGNER,
        account_address=ACCOUNT,
        registry=REGISTRY,
        fields={**META, **fields},
        file_bytes=f"decision {fields}".encode(),
        now=NOW,
        public_url="https://x.example",
    )
    session.commit()
    return issued.id


def test_each_change_is_a_signed_entry_queued_in_the_outbox(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        entries = entries_of(s, "ubnd-q3")
        assert [e.seq for e in entries] == [1, 2] and not any(e.anchored for e in entries)
        for e in entries:
            verify_jws(e.token, SIGNER.public_jwk(), ("ES256",))  # signed with the agency's key
            assert s.exec(select(AnchorLeaf).where(AnchorLeaf.data == e.leaf)).one().account == ACCOUNT
        assert read_entry(entries[1].token).prev == entries[0].leaf  # linked: a gap would show
        confirm_all(s)
        body = register_json(s, "ubnd-q3")
    assert [e["status"] for e in body["entries"]] == ["anchored", "anchored"]
    assert body["entries"][0]["proof"]["leaf"] == body["entries"][0]["leaf"]
    assert [o["holder"] for o in body["offices"]] == ["Nguyễn Văn An", "Trần Thị Bình"]


def test_an_agency_that_keeps_no_register_issues_as_today(engine: Engine) -> None:
    with Session(engine) as s:
        assert _issue(s, signer_name="Người Không Có Trong Sổ")


def test_issuing_refuses_a_signer_who_did_not_hold_the_office(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        confirm_all(s)
        with pytest.raises(SignerNotInOffice) as refused:
            _issue(s, signer_name="Trần Thị Bích")
        assert refused.value.http_status == 422
        with pytest.raises(SigningFormNotAllowed):
            _issue(s, signing_form="TM.")
        assert _issue(s)  # the deputy, KT., in office


def test_issuing_waits_until_the_covering_entry_is_anchored(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        with pytest.raises(OfficeEntryPending) as pending:
            _issue(s)
        assert pending.value.http_status == 409
        s.rollback()
        confirm_all(s)
        assert _issue(s)


def test_an_end_of_office_refuses_at_once_before_it_is_anchored(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        confirm_all(s)
        end_office(s, WRITER, "o2", "2024-05-31", NOW)
        s.commit()
        with pytest.raises(SignerNotInOffice) as refused:
            _issue(s)
        assert "2024-05-31" in refused.value.message
        with pytest.raises(OfficeAlreadyEnded):
            end_office(s, WRITER, "o2", "2024-06-30", NOW)
        with pytest.raises(OfficeNotFound):
            end_office(s, WRITER, "o9", "2024-06-30", NOW)


def test_a_delegation_used_one_day_after_it_ended_is_refused(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        fields = {
            "form": "TUQ.",
            "delegate": "Hoàng Thị Giang",
            "delegate_title": "Trưởng phòng Nội vụ",
            "for_office": "o1",
            "document_types": ["QĐ"],
            "from": "2024-01-01",
            "until": "2024-07-14",
            "authorising_number": "15/QĐ-UBND",
        }
        add_delegation(s, WRITER, fields, NOW)
        s.commit()
        confirm_all(s)
        tuq = {"signer_name": "Hoàng Thị Giang", "signer_title": "Trưởng phòng Nội vụ", "signing_form": "TUQ."}
        with pytest.raises(DelegationExpired):
            _issue(s, **tuq)  # issued_on 2024-07-15
        assert _issue(s, **tuq, issued_on="2024-07-14", number="2390/QĐ-UBND")
        revoke_delegation(s, WRITER, "d3", "2024-07-01", NOW)
        s.commit()
        with pytest.raises(DelegationAlreadyRevoked):
            revoke_delegation(s, WRITER, "d3", "2024-07-02", NOW)
        with pytest.raises(DelegationNotFound):
            revoke_delegation(s, WRITER, "d9", "2024-07-02", NOW)


def test_a_batch_is_refused_naming_the_item(engine: Engine) -> None:
    with Session(engine) as s:
        _appoint(s)
        confirm_all(s)
        items = [({**META, "number": f"{n}/QĐ-UBND"}, f"file {n}".encode()) for n in (1, 2)]
        items.append(({**META, "number": "3/QĐ-UBND", "signer_name": "Trần Thị Bích"}, b"file 3"))
        with pytest.raises(SignerNotInOffice) as refused:
            issue_batch(
                s,
                agency_id="ubnd-q3",
                signer=SIGNER,
                account_address=ACCOUNT,
                registry=REGISTRY,
                items=items,
                now=NOW,
                public_url="https://x.example",
            )
        assert refused.value.message.startswith("documents[2]: ")


# ---------------------------------------------------------------------------------------------------------- over HTTP
@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    yield from issuing_api(engine, tmp_path, registry)


def test_issuing_refusal_over_http_says_why(api: Api, engine: Engine) -> None:
    city = api.services.require_city()
    reg = api.services.registry()
    now = datetime.now(UTC)
    writer = Writer(
        "ubnd-q3",
        city.keyring("ubnd-q3").signer(now),
        city.eth_address("ubnd-q3"),
        Registry.of(reg.chain_id, reg.address),
    )
    with Session(engine) as s:
        _appoint(s, writer)
        confirm_all(s, now)
    today = (now + timedelta(hours=7)).date().isoformat()
    fields = {**META, "issued_on": today, "number": f"7/{today[:4]}/QĐ-UBND"}
    r = api.issue(b"decision 1", **{**fields, "signer_name": "Trần Thị Bích"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "SIGNER_NOT_IN_OFFICE", r.text
    r = api.issue(b"decision 2", **{**fields, "signing_form": "TL."})
    assert r.status_code == 422 and r.json()["error"]["code"] == "DELEGATION_MISSING", r.text
    r = api.issue(b"decision 3", **fields)
    assert r.status_code == 201, r.text
    r = api.issue(b"another agency", agency="ubnd-q5", **{**fields, "signer_name": "Trần Thị Bích"})
    assert r.status_code == 201, r.text  # ubnd-q5 keeps no register
