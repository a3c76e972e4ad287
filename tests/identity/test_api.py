from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity._crypto import P256Key
from identity.api import build_router
from identity.status_list import parse_status_list_jwt
from keys.errors import XacthucError
from tests.identity.conftest import CITIZEN, ISSUER, NOW, TestSigner


def _app(engine: Engine, signer: TestSigner) -> FastAPI:
    def db() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    def need(role: str):  # type: ignore[no-untyped-def]
        def dep(authorization: str = Header("")) -> None:
            if authorization != f"Bearer {role}":
                raise HTTPException(403)

        return dep

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    app.include_router(
        build_router(
            session=db,
            require_issue=need("identity:issue"),
            require_revoke=need("identity:revoke"),
            signer=lambda: (ISSUER, signer),
            clock=lambda: NOW,
            public_base_url="https://id.hcmc.example",
        )
    )
    return app


def test_http_flow(engine: Engine, issuer_signer: TestSigner) -> None:
    client = TestClient(_app(engine, issuer_signer))
    issue = {"Authorization": "Bearer identity:issue"}
    assert client.post("/v1/citizens", json=CITIZEN).status_code == 403
    r = client.post("/v1/citizens", json=CITIZEN, headers=issue)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    dup = client.post("/v1/citizens", json=CITIZEN, headers=issue)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "CITIZEN_EXISTS"
    bad = client.post("/v1/citizens", json={**CITIZEN, "cccd": "12"}, headers=issue)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cccd"
    assert CITIZEN["cccd"][:3] + "303" not in bad.text

    holder = P256Key.generate().public_jwk()
    r = client.post(f"/v1/citizens/{cid}/credentials", json={"holder_jwk": holder}, headers=issue)
    assert r.status_code == 201, r.text
    cred_id, cred = r.json()["id"], r.json()["credential"]
    assert cred.endswith("~")

    r = client.post(f"/v1/credentials/{cred_id}/revoke", headers={"Authorization": "Bearer identity:revoke"})
    assert r.status_code == 200, r.text

    from identity.sdjwt import parse_jws

    uri = parse_jws(cred.split("~")[0]).payload["status"]["status_list"]["uri"]
    r = client.get(uri.removeprefix("https://id.hcmc.example"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/statuslist+jwt"
    assert r.headers["cache-control"] == "public, max-age=300"
    token = parse_status_list_jwt(r.text)
    assert token.uri == uri
    assert client.get("/v1/status-lists/none").status_code == 404
