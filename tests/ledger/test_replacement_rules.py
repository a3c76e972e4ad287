"""The supersession rules (ledger/documents/replacement.py) through ``revoke_document``, the one function HTTP and
the CLI both call, on both databases with the eth-tester registry: one test per rule, named for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.agencies import Agency
from keys.authority import add_authority, remove_authority
from ledger.chain.client import RegistryClient
from ledger.documents.issuing import DocumentRow, ReplacementInvalid
from ledger.documents.replacement import (
    REPLACEMENT_ERRORS,
    ReplacementCycle,
    ReplacementNotAnchored,
    ReplacementNotFound,
    ReplacementOtherAgency,
    ReplacementReasonConflict,
    ReplacementRequired,
    ReplacementRevoked,
    ReplacementSelf,
)
from ledger.documents.status import get_document
from tests.ledger.test_documents import NOW, _anchor, _issue, _revoke


def _docs(engine: Engine, registry: RegistryClient, account: LocalAccount, *numbers: str, **kw: Any) -> list[str]:
    with Session(engine, expire_on_commit=False) as s:
        return [_issue(s, registry, account, file=n.encode(), fields={"number": n}, **kw) for n in numbers]


def _row(s: Session, doc: str) -> DocumentRow:
    row = s.get(DocumentRow, doc)
    assert row is not None
    return row


def _supersede(engine: Engine, old: str, new: str, **kw: Any) -> Any:
    with Session(engine, expire_on_commit=False) as s:
        view = _revoke(s, _row(s, old), replaced_by=new, **kw)
        s.commit()
        return view


@pytest.fixture
def account(agency_accounts: list[LocalAccount]) -> LocalAccount:
    return agency_accounts[0]


def test_every_rule_error_is_a_replacement_invalid() -> None:
    """Callers that matched the one error (``DOC_REPLACEMENT_INVALID``) still match every rule's."""
    codes = {cls.code for cls in REPLACEMENT_ERRORS}
    assert len(codes) == len(REPLACEMENT_ERRORS) == 8
    assert all(issubclass(cls, ReplacementInvalid) and cls.http_status in (409, 422) for cls in REPLACEMENT_ERRORS)


def test_replaced_without_replaced_by_is_refused(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    (doc,) = _docs(engine, registry, account, "1/QĐ-UBND")
    _anchor(engine, registry, account)
    with Session(engine) as s, pytest.raises(ReplacementRequired) as caught:
        _revoke(s, _row(s, doc), reason="replaced")
    assert caught.value.code == "DOC_REPLACEMENT_REQUIRED" and "replaced_by" in caught.value.message


def test_replaced_by_with_another_reason_is_refused(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    old, new = _docs(engine, registry, account, "1/QĐ-UBND", "2/QĐ-UBND")
    _anchor(engine, registry, account)
    with Session(engine) as s, pytest.raises(ReplacementReasonConflict):
        _revoke(s, _row(s, old), reason="annulled", replaced_by=new)


def test_unknown_replacement_is_refused(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    (doc,) = _docs(engine, registry, account, "1/QĐ-UBND")
    _anchor(engine, registry, account)
    for unknown in ("01JNOSUCHDOCUMENT000000000", "x" * 40):
        with Session(engine) as s, pytest.raises(ReplacementNotFound):
            _revoke(s, _row(s, doc), replaced_by=unknown)


def test_document_cannot_replace_itself(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    (doc,) = _docs(engine, registry, account, "1/QĐ-UBND")
    _anchor(engine, registry, account)
    with Session(engine) as s, pytest.raises(ReplacementSelf):
        _revoke(s, _row(s, doc), replaced_by=doc.lower())  # ids are read case-insensitively


def test_pending_replacement_is_refused(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    (old,) = _docs(engine, registry, account, "1/QĐ-UBND")
    _anchor(engine, registry, account)
    (new,) = _docs(engine, registry, account, "2/QĐ-UBND")  # issued after the anchor: pending
    with Session(engine) as s, pytest.raises(ReplacementNotAnchored) as caught:
        _revoke(s, _row(s, old), replaced_by=new)
    assert caught.value.http_status == 409
    _anchor(engine, registry, account)
    assert _supersede(engine, old, new).revocation is not None  # once anchored it is accepted


def test_replacement_of_another_agency_is_refused_without_recorded_authority(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    (ward,) = _docs(engine, registry, account, "1/QĐ-UBND", agency_id="ubnd-q1")
    (city,) = _docs(engine, registry, account, "2/QĐ-UBND")  # ubnd-hcm
    _anchor(engine, registry, account)
    with Session(engine) as s:
        for agency_id in ("ubnd-hcm", "ubnd-q1"):
            s.add(Agency(id=agency_id, name=agency_id, roles=["documents"], created_at=NOW))
        s.commit()
    with Session(engine) as s, pytest.raises(ReplacementOtherAgency) as caught:
        _revoke(s, _row(s, ward), agency="ubnd-q1", replaced_by=city)
    assert "xacthuc agency authority add ubnd-hcm ubnd-q1" in caught.value.message
    # Authority the other way round (the ward over the city) does not count.
    with Session(engine) as s:
        add_authority(s, "ubnd-q1", "ubnd-hcm", now=NOW)
        s.commit()
    with Session(engine) as s, pytest.raises(ReplacementOtherAgency):
        _revoke(s, _row(s, ward), agency="ubnd-q1", replaced_by=city)
    with Session(engine) as s:
        remove_authority(s, "ubnd-q1", "ubnd-hcm")
        add_authority(s, "ubnd-hcm", "ubnd-q1", now=NOW, note="Quyết định phân cấp")
        s.commit()
    view = _supersede(engine, ward, city, agency="ubnd-q1")
    assert view.row.replaced_by == city


def test_revoked_replacement_is_refused(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    old, annulled, replaced, newest = _docs(
        engine, registry, account, "1/QĐ-UBND", "2/QĐ-UBND", "3/QĐ-UBND", "4/QĐ-UBND"
    )
    _anchor(engine, registry, account)
    with Session(engine) as s:
        _revoke(s, _row(s, annulled), reason="annulled")  # recorded, not yet on chain: refused already
        s.commit()
    with Session(engine) as s, pytest.raises(ReplacementRevoked):
        _revoke(s, _row(s, old), replaced_by=annulled)
    _anchor(engine, registry, account)
    with Session(engine) as s:
        assert get_document(s, annulled).status == "revoked"
        with pytest.raises(ReplacementRevoked):
            _revoke(s, _row(s, old), replaced_by=annulled)
    _supersede(engine, replaced, newest)
    _anchor(engine, registry, account)
    with Session(engine) as s, pytest.raises(ReplacementRevoked) as caught:
        _revoke(s, _row(s, old), replaced_by=replaced)  # superseded: name the newest instead
    assert "superseded" in caught.value.message
    assert _supersede(engine, old, newest).row.replaced_by == newest


def test_cycle_is_refused(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    """B replaced by R, then R by B (the cycle issue 10 observed), and through a chain: A by B, B by C, C by A."""
    a, b, c = _docs(engine, registry, account, "1/QĐ-UBND", "2/QĐ-UBND", "3/QĐ-UBND")
    _anchor(engine, registry, account)
    _supersede(engine, a, b)
    with Session(engine) as s, pytest.raises(ReplacementCycle):
        _revoke(s, _row(s, b), replaced_by=a)
    _supersede(engine, b, c)
    with Session(engine) as s, pytest.raises(ReplacementCycle) as caught:
        _revoke(s, _row(s, c), replaced_by=a)
    assert "chain" in caught.value.message
    with Session(engine) as s:  # nothing was recorded by the refusals
        assert _row(s, c).revoked_at is None


def test_refused_supersession_records_nothing(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    old, new = _docs(engine, registry, account, "1/QĐ-UBND", "2/QĐ-UBND")
    _anchor(engine, registry, account)
    with Session(engine) as s:
        with pytest.raises(ReplacementSelf):
            _revoke(s, _row(s, old), replaced_by=old, now=NOW + timedelta(seconds=1))
        s.commit()
    with Session(engine) as s:
        row = _row(s, old)
        assert row.revoked_at is None and row.replaced_by is None and get_document(s, old).revocation is None
    assert _supersede(engine, old, new).row.replaced_by == new
