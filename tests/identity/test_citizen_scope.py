"""Issue 8, item 10: a citizen belongs to the identity agency that registered it.

Another agency can neither issue for it nor learn from a registration attempt whether it holds a CCCD number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity import service
from identity.api import build_router
from identity.errors import CitizenExists, CitizenNotFound
from keys.agencies import Principal
from keys.errors import Unauthenticated, XacthucError
from tests.identity.conftest import CITIZEN, NOW, STATUS_BASE, TestSigner
from xacthuc.database import alembic_config, make_engine, migrate

AGENCY_A = "ca-hcm"
AGENCY_B = "ca-q1"
PRINCIPALS = {
    AGENCY_A: Principal(AGENCY_A, frozenset({"identity:issue", "identity:revoke"}), "k1"),
    AGENCY_B: Principal(AGENCY_B, frozenset({"identity:issue", "identity:revoke"}), "k2"),
}


def _principal(authorization: str = Header("")) -> Principal:
    principal = PRINCIPALS.get(authorization.removeprefix("Bearer "))
    if principal is None:
        raise Unauthenticated("an API key is required")
    return principal


@pytest.fixture
def client(engine: Engine) -> TestClient:
    signers = {AGENCY_A: TestSigner("a-key"), AGENCY_B: TestSigner("b-key")}

    def db() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    app.include_router(
        build_router(
            session=db,
            require_issue=_principal,
            require_revoke=_principal,
            signer_for=lambda agency, _now: signers[agency],
            clock=lambda: NOW,
            public_base_url="https://id.hcmc.example",
        )
    )
    return TestClient(app)


def _auth(agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {agency}"}


def test_issuing_for_a_citizen_another_agency_registered_is_not_found(client: TestClient) -> None:
    r = client.post("/v1/citizens", json=CITIZEN, headers=_auth(AGENCY_A))
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]
    r = client.post(f"/v1/citizens/{theirs}/credentials", headers=_auth(AGENCY_B))
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "CITIZEN_NOT_FOUND"
    # Indistinguishable from an id that does not exist, and none of the citizen's record leaks.
    unknown = client.post("/v1/citizens/00000000-0000-4000-8000-000000000000/credentials", headers=_auth(AGENCY_B))
    assert unknown.status_code == 404 and unknown.json() == r.json()
    assert CITIZEN["cccd"] not in r.text and "Khai" not in r.text
    # The registering agency still issues.
    assert client.post(f"/v1/citizens/{theirs}/credentials", headers=_auth(AGENCY_A)).status_code == 201


def test_registration_does_not_reveal_that_another_agency_holds_the_number(client: TestClient) -> None:
    a = client.post("/v1/citizens", json=CITIZEN, headers=_auth(AGENCY_A))
    b = client.post("/v1/citizens", json=CITIZEN, headers=_auth(AGENCY_B))
    assert a.status_code == b.status_code == 201, b.text
    assert a.json()["id"] != b.json()["id"]
    assert {k: v for k, v in a.json().items() if k != "id"} == {k: v for k, v in b.json().items() if k != "id"}
    # Each agency's own registry still refuses a number it already holds.
    again = client.post("/v1/citizens", json=CITIZEN, headers=_auth(AGENCY_B))
    assert again.status_code == 409 and again.json()["error"]["code"] == "CITIZEN_EXISTS"


def test_the_service_scopes_citizens_by_agency(session: Session, issuer_signer: TestSigner) -> None:
    mine = service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY_A)
    other = service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY_B)
    assert service.get_citizen(session, mine.id, agency_id=AGENCY_A) is mine
    with pytest.raises(CitizenNotFound):
        service.get_citizen(session, mine.id, agency_id=AGENCY_B)
    with pytest.raises(CitizenNotFound):
        service.issue_credential(session, mine.id, issuer_signer, AGENCY_B, None, NOW, status_base_url=STATUS_BASE)
    service.issue_credential(session, other.id, issuer_signer, AGENCY_B, None, NOW, status_base_url=STATUS_BASE)
    with pytest.raises(CitizenExists):
        service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY_A)


# --- migration 0009 -------------------------------------------------------------------------------------------------

_AGENCIES = sa.table(
    "keys_agencies",
    sa.column("id"),
    sa.column("name"),
    sa.column("name_en"),
    sa.column("roles", sa.JSON),
    sa.column("eth_address"),
    sa.column("disabled", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_CITIZENS = sa.table(
    "identity_citizen",
    *(sa.column(c) for c in ("id", "cccd", "full_name", "family_name", "given_name", "sex", "nationality")),
    *(sa.column(c) for c in ("place_of_origin", "place_of_residence")),
    sa.column("birth_date", sa.Date),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_LISTS = sa.table(
    "identity_status_list",
    *(sa.column(c) for c in ("id", "issuer_id", "size", "used")),
    sa.column("bits", sa.LargeBinary),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_CREDENTIALS = sa.table(
    "identity_credential",
    *(sa.column(c) for c in ("id", "citizen_id", "issuer_id", "kid", "vct", "status_list_id", "status_idx")),
    sa.column("issued_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)


def _citizen_row(citizen_id: str, cccd: str) -> dict[str, object]:
    return {
        "id": citizen_id,
        "cccd": cccd,
        "full_name": "Nguyễn Thị Minh Khai",
        "family_name": "Nguyễn",
        "given_name": "Thị Minh Khai",
        "sex": "female",
        "nationality": "VN",
        "place_of_origin": "Huế",
        "place_of_residence": "Quận 1",
        "birth_date": datetime(2003, 5, 17).date(),
        "created_at": NOW,
    }


def _credential_row(cred_id: str, citizen_id: str, issuer: str, issued_at: datetime, idx: int) -> dict[str, object]:
    return {
        "id": cred_id,
        "citizen_id": citizen_id,
        "issuer_id": issuer,
        "kid": "k",
        "vct": service.VCT,
        "status_list_id": "list-" + issuer,
        "status_idx": idx,
        "issued_at": issued_at,
        "expires_at": issued_at + timedelta(days=365),
    }


@pytest.mark.parametrize(
    ("b_roles", "unissued_owner"), [(["identity"], ""), (["documents"], AGENCY_A)], ids=["two-identity", "one"]
)
def test_migration_0009_gives_existing_citizens_their_first_issuer(
    db_url: str, b_roles: list[str], unissued_owner: str
) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                _AGENCIES.insert(),
                [
                    {"id": a, "name": a, "name_en": a, "roles": roles, "disabled": False, "created_at": NOW}
                    for a, roles in ((AGENCY_A, ["identity"]), (AGENCY_B, b_roles), ("ubnd", ["documents"]))
                ],
            )
            conn.execute(_CITIZENS.insert(), [_citizen_row("c1", "079303001234"), _citizen_row("c2", "079303005678")])
            conn.execute(
                _LISTS.insert(),
                [
                    {"id": "list-" + a, "issuer_id": a, "size": 8, "used": 1, "bits": b"\0", "created_at": NOW}
                    | {"updated_at": NOW}
                    for a in (AGENCY_A, AGENCY_B)
                ],
            )
            conn.execute(
                _CREDENTIALS.insert(),
                [
                    _credential_row("k2", "c1", AGENCY_A, NOW + timedelta(hours=1), 1),
                    _credential_row("k1", "c1", AGENCY_B, NOW, 2),
                ],
            )
        migrate(engine)
        with engine.connect() as conn:
            rows: dict[str, str] = dict(conn.execute(sa.text("SELECT id, agency_id FROM identity_citizen")).all())
        # c1: the agency that issued first; c2 (never issued): the only identity agency, else nobody's.
        assert rows == {"c1": AGENCY_B, "c2": unissued_owner}
        with Session(engine) as session:
            with pytest.raises(CitizenNotFound):
                service.get_citizen(session, "c1", agency_id=AGENCY_A)
            assert service.get_citizen(session, "c1", agency_id=AGENCY_B).cccd == "079303001234"
            service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY_A)  # c1's number, another agency
            session.commit()
    finally:
        engine.dispose()


def test_migration_0009_downgrades_with_citizens_and_credentials_in_place(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with Session(engine) as session:
            citizen_id = service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY_A).id
            signer = TestSigner()
            service.issue_credential(session, citizen_id, signer, AGENCY_A, None, NOW, status_base_url=STATUS_BASE)
            session.commit()
        command.downgrade(alembic_config(engine), "0008")
        with engine.connect() as conn:
            assert "agency_id" not in {c["name"] for c in sa.inspect(conn).get_columns("identity_citizen")}
            assert conn.execute(sa.text("SELECT count(*) FROM identity_credential")).scalar() == 1
        migrate(engine)
        with Session(engine) as session:
            assert service.get_citizen(session, citizen_id, agency_id=AGENCY_A).cccd == CITIZEN["cccd"]
    finally:
        engine.dispose()
