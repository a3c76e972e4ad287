from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlmodel import Session

from keys import agencies as ag
from keys.api import build_router, require
from keys.bootstrap import CITY_ID, City, bootstrap_city
from keys.errors import KeystoreUnlockFailed, XacthucError
from keys.generate import generate_eth_account, generate_signing_key
from keys.jws import sign_jws
from keys.keystore import TEST_KDF
from keys.trust_list import verify_trust_list

from .conftest import NOW, PASSPHRASE


def _creds(city: City) -> dict[str, object]:
    path = city.data_dir / "dev-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_fresh_bootstrap_creates_city_and_demo_agencies(city: City, session: Session) -> None:
    creds = _creds(city)
    names = {a["id"]: a for a in creds["agencies"]}  # type: ignore[union-attr,index]
    assert set(names) == {"ubnd-hcm", "ca-hcm"}
    assert names["ubnd-hcm"]["name"] == "Ủy ban nhân dân Thành phố Hồ Chí Minh"
    assert names["ca-hcm"]["roles"] == ["identity:issue", "identity:revoke"]
    p = ag.authenticate(session, names["ubnd-hcm"]["api_key"])
    assert p.agency_id == "ubnd-hcm" and "documents:issue" in p.roles
    admin = ag.authenticate(session, str(creds["admin_token"]))
    assert admin.agency_id == CITY_ID and admin.roles == {"admin"}
    assert city.eth_account("ubnd-hcm").address == city.eth_address("ubnd-hcm")
    assert city.admin_account.address.startswith("0x")
    assert city.keyring("ca-hcm").signer(NOW).alg == "ES256"


def test_trust_list_and_jwks(city: City) -> None:
    tl = verify_trust_list(city.build_trust_list(NOW), city.root_jwk(), NOW)
    ubnd = tl.agency("ubnd-hcm")
    assert ubnd is not None and ubnd.roles == {"documents"} and ubnd.eth_address == city.eth_address("ubnd-hcm")
    receipt = city.keyring("ubnd-hcm").sign_jws({"iss": "ubnd-hcm"}, NOW)
    assert tl.verify(receipt, signed_at=NOW, role="documents").trusted_key is not None
    kids = {k["kid"] for k in city.jwks()["keys"]}
    assert city.root_signer.kid in kids and city.keyring("ubnd-hcm").signer(NOW).kid in kids


def test_trust_list_version_grows_with_changes(city: City) -> None:
    v1 = city.trust_list_version()
    city.keyring("ubnd-hcm").rotate(NOW)
    assert city.trust_list_version() > v1


def test_existing_data_dir_loads_and_fresh_database_gets_rows(tmp_path: Path, city: City) -> None:
    from sqlalchemy.pool import StaticPool
    from sqlmodel import SQLModel, create_engine

    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as other:
        again = bootstrap_city(city.data_dir, other, PASSPHRASE, NOW, kdf=TEST_KDF)
        assert again.root_signer.kid == city.root_signer.kid
        assert {a.id for a in ag.list_agencies(other)} == {CITY_ID, "ubnd-hcm", "ca-hcm"}
        token = next(a["api_key"] for a in _creds(again)["agencies"] if a["id"] == "ca-hcm")  # type: ignore[union-attr,index]
        assert ag.authenticate(other, token).agency_id == "ca-hcm"
    with pytest.raises(KeystoreUnlockFailed):
        bootstrap_city(city.data_dir, other, "not the passphrase", NOW)


def test_plain_keys_are_migrated_and_deleted(tmp_path: Path, session: Session) -> None:
    data = tmp_path / "data"
    plain = data / "keys" / "plain"
    plain.mkdir(parents=True)
    legacy = generate_signing_key("ES256")
    d = legacy._key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
    (plain / "ubnd-hcm.json").write_text(json.dumps({"alg": "ES256", "agency_id": "ubnd-hcm", "private_key": d.hex()}))
    eth = generate_eth_account()
    (plain / "ubnd-hcm-eth.json").write_text(json.dumps({"kind": "eth", "private_key": eth.key.hex()}))
    (plain / "mystery.json").write_text(json.dumps({"whatever": 1}))
    old_receipt = sign_jws(legacy, {"iss": "ubnd-hcm"})
    city = bootstrap_city(data, session, PASSPHRASE, NOW, kdf=TEST_KDF)
    assert not (plain / "ubnd-hcm.json").exists() and not (plain / "ubnd-hcm-eth.json").exists()
    assert (plain / "mystery.json").exists()  # not understood: left alone
    ring = city.keyring("ubnd-hcm")
    record = ring.get(legacy.kid)
    assert record is not None and record.status == "retired"
    ring.verify_key(legacy.kid, NOW.replace(year=2025))
    assert ring.signer(NOW).kid != legacy.kid
    assert old_receipt.split(".")[0]
    assert city.keystore.load_eth_account("ubnd-hcm-eth").address == eth.address


def test_http_routes_and_auth(city: City, session: Session) -> None:
    from fastapi import Depends

    def get_session():  # type: ignore[no-untyped-def]
        yield session

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def _handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status, headers=exc.http_headers())

    app.include_router(build_router(get_session, lambda: city, lambda: NOW))
    dep = require("documents:issue", get_session)

    @app.get("/protected")
    def protected(principal: ag.Principal = Depends(dep)) -> dict[str, str]:  # noqa: B008
        return {"agency": principal.agency_id}

    client = TestClient(app)
    r = client.get("/v1/trust-list")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jwt")
    root = client.get("/v1/trust-root").json()
    assert verify_trust_list(r.text, root, NOW).agency("ubnd-hcm") is not None
    assert {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]} >= {root["kid"]}

    creds = _creds(city)
    by_id = {a["id"]: a["api_key"] for a in creds["agencies"]}  # type: ignore[union-attr,index]
    r = client.get("/protected")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/protected", headers={"Authorization": "Bearer xk_0123456789abcdef_wrong"})
    assert r.status_code == 401
    r = client.get("/protected", headers={"Authorization": f"Bearer {by_id['ca-hcm']}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    r = client.get("/protected", headers={"Authorization": f"Bearer {by_id['ubnd-hcm']}"})
    assert r.status_code == 200 and r.json() == {"agency": "ubnd-hcm"}
