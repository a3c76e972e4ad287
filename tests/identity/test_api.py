"""The identity router alone, with fake authentication: who issues, who may revoke, which key signs the lists.

The whole app with real API keys and a bootstrapped city is in ``tests/e2e/test_identity_e2e.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity.api import build_router
from identity.sdjwt import parse_jws
from identity.status_list import parse_status_list_jwt
from keys.agencies import Principal
from keys.errors import Forbidden, Unauthenticated, XacthucError
from keys.holder_key import P256Key
from keys.jws import verify_signature
from tests.identity.conftest import CITIZEN, NOW, TestSigner

BASE = "https://id.hcmc.example"
# api key -> principal; the fake stands in for keys.api.require
PRINCIPALS = {
    "ca-hcm": Principal("ca-hcm", frozenset({"identity:issue", "identity:revoke"}), "k1"),
    "ca-q1": Principal("ca-q1", frozenset({"identity:issue", "identity:revoke"}), "k2"),
    "docs": Principal("ubnd-hcm", frozenset({"documents:issue"}), "k3"),
    "admin": Principal("tphcm", frozenset({"admin"}), "k4"),
}


def _need(*roles: str):  # type: ignore[no-untyped-def]
    def dep(authorization: str = Header("")) -> Principal:
        principal = PRINCIPALS.get(authorization.removeprefix("Bearer "))
        if principal is None:
            raise Unauthenticated("an API key is required")
        if not principal.roles.intersection(roles):
            raise Forbidden("missing role")
        return principal

    return dep


@pytest.fixture
def signers() -> dict[str, TestSigner]:
    return {"ca-hcm": TestSigner("ca-hcm-key"), "ca-q1": TestSigner("ca-q1-key")}


@pytest.fixture
def client(engine: Engine, signers: dict[str, TestSigner]) -> TestClient:
    def db() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    def signer_for(agency_id: str, now: datetime) -> TestSigner:
        assert now == NOW
        return signers[agency_id]

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    app.include_router(
        build_router(
            session=db,
            require_issue=_need("identity:issue"),
            require_revoke=_need("identity:revoke", "admin"),
            signer_for=signer_for,
            clock=lambda: NOW,
            public_base_url=BASE + "/",
        )
    )
    return TestClient(app)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _issue(client: TestClient, citizen_id: str, agency: str) -> tuple[str, str]:
    r = client.post(
        f"/v1/citizens/{citizen_id}/credentials",
        json={"holder_jwk": P256Key.generate().public_jwk()},
        headers=_auth(agency),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["credential"]


def test_register_checks_input_and_roles(client: TestClient) -> None:
    assert client.post("/v1/citizens", json=CITIZEN).status_code == 401
    assert client.post("/v1/citizens", json=CITIZEN, headers=_auth("docs")).status_code == 403
    r = client.post("/v1/citizens", json=CITIZEN, headers=_auth("ca-hcm"))
    assert r.status_code == 201, r.text
    assert "cccd" not in r.json()
    dup = client.post("/v1/citizens", json=CITIZEN, headers=_auth("ca-hcm"))
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "CITIZEN_EXISTS"
    bad = client.post("/v1/citizens", json={**CITIZEN, "cccd": "12"}, headers=_auth("ca-hcm"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cccd"
    assert CITIZEN["cccd"][:6] not in bad.text


def test_the_authenticated_agency_issues_and_signs(client: TestClient, signers: dict[str, TestSigner]) -> None:
    for agency in ("ca-hcm", "ca-q1"):
        cid = client.post("/v1/citizens", json=CITIZEN, headers=_auth(agency)).json()["id"]
        _, cred = _issue(client, cid, agency)
        jws = parse_jws(cred.split("~")[0])
        assert jws.payload["iss"] == f"{BASE}/agencies/{agency}" and jws.header["kid"] == signers[agency].kid
        assert verify_signature("ES256", signers[agency].public_jwk(), jws.signing_input, jws.signature)
        assert jws.payload["status"]["status_list"]["uri"].startswith(BASE + "/v1/status-lists/")
    r = client.post(f"/v1/citizens/{cid}/credentials", json={"holder_jwk": "x"}, headers=_auth("ca-q1"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "HOLDER_KEY_INVALID"
    assert client.post("/v1/citizens/nope/credentials", headers=_auth("ca-hcm")).status_code == 404


def test_only_the_issuer_or_admin_revokes(client: TestClient) -> None:
    cid = client.post("/v1/citizens", json=CITIZEN, headers=_auth("ca-hcm")).json()["id"]
    cred_a, _ = _issue(client, cid, "ca-hcm")
    cred_b, _ = _issue(client, cid, "ca-hcm")
    r = client.post(f"/v1/credentials/{cred_a}/revoke", headers=_auth("ca-q1"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert client.post(f"/v1/credentials/{cred_a}/revoke", headers=_auth("docs")).status_code == 403
    assert client.post(f"/v1/credentials/{cred_a}/revoke").status_code == 401
    r = client.post(f"/v1/credentials/{cred_a}/revoke", headers=_auth("ca-hcm"))
    assert r.status_code == 200 and r.json()["id"] == cred_a
    assert client.post(f"/v1/credentials/{cred_b}/revoke", headers=_auth("admin")).status_code == 200
    assert client.post("/v1/credentials/nope/revoke", headers=_auth("admin")).status_code == 404


def test_status_lists_are_per_issuer_and_signed_by_it(client: TestClient, signers: dict[str, TestSigner]) -> None:
    uris = {}
    for agency in ("ca-hcm", "ca-q1"):
        cid = client.post("/v1/citizens", json=CITIZEN, headers=_auth(agency)).json()["id"]
        _, cred = _issue(client, cid, agency)
        uris[agency] = parse_jws(cred.split("~")[0]).payload["status"]["status_list"]["uri"]
    assert uris["ca-hcm"] != uris["ca-q1"]
    for agency, uri in uris.items():
        r = client.get(uri.removeprefix(BASE))
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/statuslist+jwt"
        assert r.headers["cache-control"] == "public, max-age=300"
        token = parse_status_list_jwt(r.text)
        assert token.uri == uri and token.jws.header["kid"] == signers[agency].kid
        assert verify_signature("ES256", signers[agency].public_jwk(), token.jws.signing_input, token.jws.signature)
    r = client.get("/v1/status-lists/none")
    assert r.status_code == 404 and r.json()["error"]["code"] == "STATUS_LIST_NOT_FOUND"
