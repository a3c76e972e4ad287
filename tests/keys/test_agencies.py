from __future__ import annotations

import pytest
from sqlmodel import Session, select

from keys import agencies as ag
from keys.errors import AgencyExists, Forbidden, InvalidInput, Unauthenticated

from .conftest import NOW


def _agency(session: Session) -> ag.Agency:
    return ag.create_agency(session, name="Ủy ban nhân dân Quận 1", name_en="District 1", roles=["documents"], now=NOW)


def test_api_key_authenticates_with_its_roles(session: Session) -> None:
    agency = _agency(session)
    issued = ag.issue_api_key(session, agency.id, ["documents:issue"], NOW)
    principal = ag.authenticate(session, ag.bearer_token(f"Bearer {issued.token}"))
    assert principal == ag.Principal(agency.id, frozenset({"documents:issue"}), issued.id)
    assert ag.require_role(principal, "documents:issue") is principal
    with pytest.raises(Forbidden) as info:
        ag.require_role(principal, "documents:revoke")
    assert info.value.http_status == 403


def test_only_a_hash_is_stored(session: Session) -> None:
    agency = _agency(session)
    issued = ag.issue_api_key(session, agency.id, ["documents:issue"], NOW)
    secret = issued.token.split("_", 2)[2]
    row = session.exec(select(ag.ApiKey)).one()
    assert secret not in row.key_hash and issued.token not in repr(issued)
    assert len(secret) >= 43  # 256 bits in base64url


@pytest.mark.parametrize(
    "bearer", [None, "", "Bearer", "Bearer xk_0123456789abcdef_nope", "xk_zz_zz", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_wrong_key_is_unauthenticated(session: Session, bearer: str | None) -> None:
    _agency(session)
    with pytest.raises(Unauthenticated) as info:
        ag.authenticate(session, bearer)
    assert info.value.http_status == 401 and "WWW-Authenticate" in info.value.http_headers()


def test_wrong_secret_for_existing_id(session: Session) -> None:
    agency = _agency(session)
    issued = ag.issue_api_key(session, agency.id, ["documents:issue"], NOW)
    with pytest.raises(Unauthenticated):
        ag.authenticate(session, issued.token[:-2] + ("AA" if not issued.token.endswith("AA") else "BB"))


def test_revoked_key_and_disabled_agency_stop_working(session: Session) -> None:
    agency = _agency(session)
    a = ag.issue_api_key(session, agency.id, ["documents:issue"], NOW)
    b = ag.issue_api_key(session, agency.id, ["documents:revoke"], NOW)
    ag.revoke_api_key(session, a.id, NOW)
    with pytest.raises(Unauthenticated):
        ag.authenticate(session, a.token)
    ag.authenticate(session, b.token)
    ag.disable_agency(session, agency.id, NOW)
    with pytest.raises(Unauthenticated):
        ag.authenticate(session, b.token)
    assert [x.id for x in ag.list_agencies(session, include_disabled=False)] == []


def test_roles_are_checked(session: Session) -> None:
    agency = _agency(session)
    with pytest.raises(InvalidInput):
        ag.issue_api_key(session, agency.id, ["identity:issue"], NOW)  # not an identity agency
    with pytest.raises(InvalidInput):
        ag.issue_api_key(session, agency.id, ["root"], NOW)
    with pytest.raises(AgencyExists):
        ag.create_agency(session, name="x", roles=[], now=NOW, agency_id=agency.id)
    assert ag.expand_roles(["documents", "identity:issue"]) == (
        ("documents", "identity"),
        ("documents:issue", "documents:revoke", "identity:issue"),
    )
