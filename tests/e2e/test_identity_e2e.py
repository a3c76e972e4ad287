"""Digital IDs end to end over HTTP (issue 5's acceptance): the real app, real API keys, a bootstrapped city.

Each test registers a citizen, issues a credential bound to a wallet key, presents chosen claims and verifies the
presentation with the server's own trust list and status lists, on SQLite and on PostgreSQL. Time is a fixed,
movable clock shared by the server and the wallet. No chain is needed for identity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from identity import service
from identity.presentation import present, sd_hash
from identity.sdjwt import KB_JWT_TYP, parse_disclosure, sign_jws, split_compact
from identity.wallet import Wallet, create_wallet, verification_link
from keys.bootstrap import City, bootstrap_city
from keys.holder_key import P256Key
from keys.keystore import TEST_KDF
from keys.trust_list import verify_trust_list
from verifier.credential import verify_credential
from verifier.payload import parse_payload
from verifier.qr import decode_qr_image, qr_png
from xacthuc.app import create_app
from xacthuc.services import Services
from xacthuc.settings import Settings

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
AUDIENCE = "https://bank.example/kyc"
PASSPHRASE = "a passphrase for the identity end-to-end tests"
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}


class Clock:
    """The server's and the wallet's time: fixed, moved by the tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    client: TestClient
    clock: Clock
    city: City
    engine: Engine
    keys: dict[str, str]  # agency id -> API key
    admin_key: str
    wallet: Wallet

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.get(agency, agency)}"}


@pytest.fixture
def w(engine: Engine, tmp_path: Path) -> Iterator[World]:
    data_dir = tmp_path / "var"
    clock = Clock(NOW)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, NOW, kdf=TEST_KDF)
        session.commit()
    settings = Settings(_env_file=None, data_dir=data_dir, public_url=PUBLIC)
    services = Services(settings=settings, engine=engine, clock=clock, city=city)
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    wallet = create_wallet(tmp_path / "wallet.json", "ví của tôi", scrypt_n=2**10)
    with TestClient(create_app(services)) as client:
        yield World(
            client=client,
            clock=clock,
            city=city,
            engine=engine,
            keys={a["id"]: a["api_key"] for a in creds["agencies"]},
            admin_key=creds["admin_token"],
            wallet=wallet,
        )


def _register(w: World, citizen: dict[str, str] = CITIZEN) -> str:
    r = w.client.post("/v1/citizens", json=citizen, headers=w.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _issue(w: World, citizen_id: str, holder_jwk: dict[str, Any] | None = None) -> tuple[str, str]:
    body = {"holder_jwk": holder_jwk or w.wallet.holder_jwk()}
    r = w.client.post(f"/v1/citizens/{citizen_id}/credentials", json=body, headers=w.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), str(r.json()["credential"])


def _wallet_payload(w: World, claims: list[str], audience: str = AUDIENCE, nonce: str | None = None) -> str:
    """Issue to the wallet and present ``claims`` as the ``XI2:`` QR payload."""
    _, credential = _issue(w, _register(w))
    w.wallet.import_credential(credential, w.clock())
    return w.wallet.present(claims, audience=audience, now=w.clock(), nonce=nonce)


def _verify(w: World, payload: str, audience: str | None = AUDIENCE, nonce: str | None = None) -> dict[str, Any]:
    """The report of ``POST /v1/verify``: a negative verdict is still a 200 answer."""
    body = {"payload": payload, "audience": audience, "nonce": nonce}
    r = w.client.post("/v1/verify", json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _verify_as_third_party(w: World, payload: str, audience: str | None = AUDIENCE) -> dict[str, Any]:
    """The same pipeline outside the server, from what it publishes: the signed trust list (pinned to the city
    root) and the status lists, fetched over HTTP."""
    now = w.clock()
    trust = verify_trust_list(w.client.get("/v1/trust-list").text, w.client.get("/v1/trust-root").json(), now)

    def fetch(uri: str) -> str:
        assert uri.startswith(PUBLIC + "/v1/status-lists/")
        r = w.client.get(uri.removeprefix(PUBLIC))
        assert r.status_code == 200, r.text
        return str(r.text)

    return verify_credential(payload, trust, fetch, now, audience).to_dict()


def _failed(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in report["checks"] if c["status"] in ("invalid", "error")}


def _kb(presented: str, holder: P256Key, now: datetime, audience: str = AUDIENCE) -> str:
    """Bind ``presented`` (``issuer-jwt~disclosures~``) to the holder key: a forger holding the wallet key."""
    payload = {"iat": int(now.timestamp()), "aud": audience, "sd_hash": sd_hash(presented)}
    return presented + sign_jws(holder, {"typ": KB_JWT_TYP}, payload, with_kid=False)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- the happy path ------------------------------------------------------------------------------------------------


def test_present_two_claims_as_a_qr_code_and_verify(w: World) -> None:
    payload = _wallet_payload(w, ["given_name", "age_over_18"])
    link = verification_link(PUBLIC, payload)
    [scanned] = decode_qr_image(qr_png(link))
    assert scanned.decode() == link
    parsed = parse_payload(scanned)
    assert parsed.kind == "citizen_id" and parsed.payload == payload
    report = _verify(w, parsed.payload)
    assert report["verdict"] == "valid", _failed(report)
    assert report["kind"] == "citizen_id"
    assert report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}
    assert report["issuer"]["id"] == "ca-hcm"
    assert CITIZEN["cccd"] not in json.dumps(report)
    assert _verify(w, link)["claims"] == report["claims"]
    r = w.client.post("/v1/verify", files={"image": ("qr.png", qr_png(link), "image/png")}, data={"audience": AUDIENCE})
    assert r.status_code == 200 and r.json()["verdict"] == "valid" and r.json()["claims"] == report["claims"]
    third_party = _verify_as_third_party(w, payload)
    assert third_party["verdict"] == "valid" and third_party["claims"] == report["claims"]


# --- negative verdicts ---------------------------------------------------------------------------------------------


def test_revoked(w: World) -> None:
    credential_id, credential = _issue(w, _register(w))
    w.wallet.import_credential(credential, w.clock())
    r = w.client.post(f"/v1/credentials/{credential_id}/revoke", headers=w.auth("ca-hcm"))
    assert r.status_code == 200, r.text
    report = _verify(w, w.wallet.present(["age_over_18"], audience=AUDIENCE, now=w.clock()))
    assert report["verdict"] == "revoked"
    assert _failed(report) == {"status": "REVOKED"}
    outside = _verify_as_third_party(w, w.wallet.present(["age_over_18"], audience=AUDIENCE, now=w.clock()))
    assert outside["verdict"] == "revoked"  # the published status list says so too


def test_expired(w: World) -> None:
    _, credential = _issue(w, _register(w))
    w.wallet.import_credential(credential, w.clock())
    w.clock.advance(timedelta(days=366))
    report = _verify(w, w.wallet.present(["age_over_18"], audience=AUDIENCE, now=w.clock()))
    assert report["verdict"] == "expired"
    assert _failed(report) == {"not_expired": "EXPIRED"}


def test_altered_disclosure_is_invalid(w: World) -> None:
    holder = P256Key.generate()
    _, credential = _issue(w, _register(w), holder.public_jwk())
    sd = split_compact(present(credential, ["given_name"], holder, audience=AUDIENCE, now=w.clock()))
    salt, name, _value = json.loads(base64.urlsafe_b64decode(sd.disclosures[0] + "=="))
    forged = _b64u(json.dumps([salt, name, "Lan"]).encode())
    report = _verify(w, _kb(f"{sd.issuer_jwt}~{forged}~", holder, w.clock()))
    assert report["verdict"] == "invalid"
    assert _failed(report) == {"disclosures": "DISCLOSURE_UNREFERENCED"}
    assert report["claims"] == {}


def test_disclosure_from_another_credential_is_invalid(w: World) -> None:
    holder = P256Key.generate()
    citizen_id = _register(w)
    _, mine = _issue(w, citizen_id, holder.public_jwk())
    _, other = _issue(w, citizen_id, holder.public_jwk())
    sd = split_compact(mine)
    theirs = next(d for d in split_compact(other).disclosures if parse_disclosure(d).name == "birth_date")
    given = next(d for d in sd.disclosures if parse_disclosure(d).name == "given_name")
    report = _verify(w, _kb(f"{sd.issuer_jwt}~{given}~{theirs}~", holder, w.clock()))
    assert report["verdict"] == "invalid"
    assert _failed(report) == {"disclosures": "DISCLOSURE_UNREFERENCED"}


def test_key_binding_replayed_outside_its_window_is_invalid(w: World) -> None:
    payload = _wallet_payload(w, ["given_name", "age_over_18"])
    assert _verify(w, payload)["verdict"] == "valid"
    w.clock.advance(timedelta(minutes=6))
    report = _verify(w, payload)
    assert report["verdict"] == "invalid"
    assert _failed(report) == {"key_binding": "KB_NOT_FRESH"}
    assert _verify(w, payload, audience=None)["verdict"] == "invalid"


def test_key_binding_for_another_audience_or_nonce_is_invalid(w: World) -> None:
    payload = _wallet_payload(w, ["age_over_18"], audience="https://landlord.example", nonce="n-1")
    report = _verify(w, payload, audience=AUDIENCE)
    assert report["verdict"] == "invalid"
    assert _failed(report) == {"key_binding": "KB_AUDIENCE_MISMATCH"}
    report = _verify(w, payload, audience="https://landlord.example", nonce="n-2")
    assert _failed(report) == {"key_binding": "KB_NONCE_MISMATCH"}
    assert _verify(w, payload, audience="https://landlord.example", nonce="n-1")["verdict"] == "valid"


def _reheader(issuer_jwt: str, alg: str, key: bytes | None) -> str:
    header_b64, payload_b64, _ = issuer_jwt.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    signing_input = _b64u(json.dumps({**header, "alg": alg}).encode()) + "." + payload_b64
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64u(signature)


def test_alg_none_and_hs256_with_the_public_key_are_invalid(w: World) -> None:
    holder = P256Key.generate()
    _, credential = _issue(w, _register(w), holder.public_jwk())
    sd = split_compact(present(credential, ["given_name"], holder, audience=AUDIENCE, now=w.clock()))
    jwk = w.city.keyring("ca-hcm").signer(w.clock()).public_jwk()
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big"),
        int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big"),
        ec.SECP256R1(),
    )
    pem = numbers.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for alg, key in (("none", None), ("HS256", pem), ("HS256", json.dumps(jwk).encode())):
        forged = _reheader(sd.issuer_jwt, alg, key)
        report = _verify(w, _kb(f"{forged}~{'~'.join(sd.disclosures)}~", holder, w.clock()))
        assert report["verdict"] == "invalid", (alg, report)
        assert report["claims"] == {}
        assert "signature" in _failed(report) or "format" in _failed(report)


def test_issued_by_an_agency_without_the_identity_role_is_untrusted(w: World) -> None:
    with Session(w.engine, expire_on_commit=False) as session:
        w.city.provision_agency(session, name="Sở Tư pháp", roles=["documents"], now=w.clock(), agency_id="stp-hcm")
        citizen = service.register_citizen(session, CITIZEN, w.clock(), agency_id="stp-hcm")
        _, credential = service.issue_credential(
            session,
            citizen.id,
            w.city.keyring("stp-hcm").signer(w.clock()),
            "stp-hcm",
            w.wallet.holder_jwk(),
            w.clock(),
            status_base_url=PUBLIC + "/v1/status-lists",
        )
        session.commit()
    w.wallet.import_credential(credential, w.clock())
    report = _verify(w, w.wallet.present(["age_over_18"], audience=AUDIENCE, now=w.clock()))
    assert report["verdict"] == "untrusted"
    assert _failed(report) == {"issuer_trusted": "ISSUER_NOT_AUTHORISED"}
    assert report["claims"] == {}


# --- input and access ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"cccd": "07930300123"}, "cccd", "CCCD_INVALID"),
        ({"cccd": "999303001234"}, "cccd", "CCCD_INVALID"),
        ({"cccd": "079103001234"}, "birth_date", "CCCD_MISMATCH"),
    ],
    ids=["wrong-length", "unknown-province", "century-contradicts-birth-date"],
)
def test_bad_cccd_is_a_typed_422_naming_the_field(w: World, change: dict[str, str], field: str, code: str) -> None:
    r = w.client.post("/v1/citizens", json={**CITIZEN, **change}, headers=w.auth("ca-hcm"))
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == code
    assert error.get("field", field) == field and error["message"].startswith(field)
    assert change["cccd"] not in r.text


def test_no_key_is_401_and_a_wrong_role_is_403(w: World) -> None:
    r = w.client.post("/v1/citizens", json=CITIZEN)
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert w.client.post("/v1/citizens", json=CITIZEN, headers=w.auth("xk_bogus")).status_code == 401
    r = w.client.post("/v1/citizens", json=CITIZEN, headers=w.auth("ubnd-hcm"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    credential_id, _ = _issue(w, _register(w))
    r = w.client.post(f"/v1/credentials/{credential_id}/revoke", headers=w.auth("ubnd-hcm"))
    assert r.status_code == 403


def test_only_the_issuing_agency_or_the_admin_revokes(w: World) -> None:
    with Session(w.engine, expire_on_commit=False) as session:
        other = w.city.provision_agency(session, name="Công an Quận 1", roles=["identity"], now=w.clock())
        session.commit()
    assert other.api_key is not None
    credential_id, _ = _issue(w, _register(w))
    r = w.client.post(f"/v1/credentials/{credential_id}/revoke", headers=w.auth(other.api_key.token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    r = w.client.post(f"/v1/credentials/{credential_id}/revoke", headers=w.auth(w.admin_key))
    assert r.status_code == 200, r.text
