"""The OpenID4VCI issuer over HTTP: the whole pre-authorized code flow, and each way it refuses, in the specs'
error shape. The router runs alone with fake API-key authentication (as in test_api.py) and a clock the test moves;
the whole app is in ``test_oid4vci_app.py``."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity import service
from identity.oid4vci.api import build_router
from identity.presentation import present
from identity.sdjwt import parse_jws, split_compact
from keys.agencies import Principal
from keys.errors import Forbidden, Unauthenticated, XacthucError
from keys.holder_key import P256Key
from keys.jws import verify_signature
from tests.identity.conftest import CITIZEN, NOW, DictResolver, TestSigner
from tests.identity.oid4vci_proofs import proof_jwt
from verifier.credential import verify_credential

PU = "http://127.0.0.1:8123"
GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PRINCIPALS = {
    "ca-hcm": Principal("ca-hcm", frozenset({"identity:issue"}), "k1"),
    "ca-q1": Principal("ca-q1", frozenset({"identity:issue"}), "k2"),
    "docs": Principal("ubnd-hcm", frozenset({"documents:issue"}), "k3"),
}


def _need(role: str):  # type: ignore[no-untyped-def]
    def dep(authorization: str = Header("")) -> Principal:
        principal = PRINCIPALS.get(authorization.removeprefix("Bearer "))
        if principal is None:
            raise Unauthenticated("an API key is required")
        if role not in principal.roles:
            raise Forbidden("missing role")
        return principal

    return dep


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def signers() -> dict[str, TestSigner]:
    return {"ca-hcm": TestSigner("ca-hcm-key"), "ca-q1": TestSigner("ca-q1-key")}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, signers: dict[str, TestSigner], clock: Clock) -> TestClient:
    def db() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    def issuer_jwks(agency_id: str) -> list[dict[str, Any]] | None:
        return [signers[agency_id].public_jwk()] if agency_id in signers else None

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    app.include_router(
        build_router(
            session=db,
            require_issue=_need("identity:issue"),
            signer_for=lambda agency_id, now: signers[agency_id],
            issuer_jwks=issuer_jwks,
            clock=clock,
            public_url=PU + "/",
            rng=random.Random(12).randbytes,
        )
    )
    return TestClient(app)


@pytest.fixture
def citizen(engine: Engine) -> str:
    with Session(engine) as s:
        c = service.register_citizen(s, CITIZEN, NOW, agency_id="ca-hcm")
        s.commit()
        return c.id


def _offer(client: TestClient, citizen_id: str, agency: str = "ca-hcm") -> dict[str, Any]:
    r = client.post(f"/v1/citizens/{citizen_id}/offers", headers={"Authorization": f"Bearer {agency}"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _code(client: TestClient, offer: dict[str, Any]) -> str:
    r = client.get(urlsplit(offer["credential_offer_uri"]).path)
    assert r.status_code == 200, r.text
    code: str = r.json()["grants"][GRANT]["pre-authorized_code"]
    return code


def _token(client: TestClient, code: str, tx_code: str | None) -> Any:
    form = {"grant_type": GRANT, "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return client.post("/oid4vci/token", data=form)


def _access_token(client: TestClient, offer: dict[str, Any]) -> str:
    r = _token(client, _code(client, offer), offer["tx_code"])
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _nonce(client: TestClient) -> str:
    r = client.post("/oid4vci/nonce")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    nonce: str = r.json()["c_nonce"]
    return nonce


def _credential(client: TestClient, token: str, proof: str, config: str = "citizen_id", **extra: Any) -> Any:
    body = {"credential_configuration_id": config, "proofs": {"jwt": [proof]}, **extra}
    return client.post("/oid4vci/credential", json=body, headers={"Authorization": f"Bearer {token}"})


def _good_proof(client: TestClient, holder: P256Key) -> str:
    return proof_jwt(holder, aud=PU, nonce=_nonce(client), iat=int(NOW.timestamp()))


def _oauth(r: Any, status: int, error: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error, body
    description: str = body["error_description"]
    return description


# ------------------------------------------------------------------------------------------------------ metadata
def test_issuer_metadata_names_the_endpoints_and_the_one_configuration(client: TestClient) -> None:
    meta = client.get("/.well-known/openid-credential-issuer").json()
    assert meta["credential_issuer"] == PU
    assert meta["credential_endpoint"] == PU + "/oid4vci/credential"
    assert meta["nonce_endpoint"] == PU + "/oid4vci/nonce"
    assert [d["locale"] for d in meta["display"]] == ["vi", "en"]
    config = meta["credential_configurations_supported"]["citizen_id"]
    assert config["format"] == "dc+sd-jwt" and config["vct"] == service.VCT
    assert config["cryptographic_binding_methods_supported"] == ["jwk"]
    assert config["proof_types_supported"] == {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}
    claims = {c["path"][0]: c["display"] for c in config["credential_metadata"]["claims"]}
    assert {"full_name", "birth_date", "age_over_18", "personal_id"} <= set(claims)
    assert [d["locale"] for d in claims["full_name"]] == ["vi", "en"]
    assert claims["full_name"][0]["name"] == "Họ và tên"


def test_authorization_server_metadata_offers_only_the_pre_authorized_grant(client: TestClient) -> None:
    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == PU and meta["token_endpoint"] == PU + "/oid4vci/token"
    assert meta["grant_types_supported"] == [GRANT]
    assert meta["pre-authorized_grant_anonymous_access_supported"] is True


def test_jwt_vc_issuer_metadata_per_agency(client: TestClient, signers: dict[str, TestSigner]) -> None:
    meta = client.get("/.well-known/jwt-vc-issuer/agencies/ca-hcm").json()
    assert meta == {"issuer": PU + "/agencies/ca-hcm", "jwks": {"keys": [signers["ca-hcm"].public_jwk()]}}
    _oauth(client.get("/.well-known/jwt-vc-issuer/agencies/ubnd-hcm"), 404, "invalid_request")


# ------------------------------------------------------------------------------------------------- the whole flow
def test_pre_authorized_flow_issues_a_credential_bound_to_the_proof_key(
    client: TestClient, citizen: str, signers: dict[str, TestSigner]
) -> None:
    offer = _offer(client, citizen)
    assert set(offer) == {"id", "credential_offer_uri", "offer_uri", "wallet_url", "tx_code", "expires_at"}
    assert offer["credential_offer_uri"] == f"{PU}/oid4vci/offers/{offer['id']}"
    assert (
        unquote(offer["offer_uri"])
        == "openid-credential-offer://?credential_offer_uri=" + offer["credential_offer_uri"]
    )
    assert parse_qs(urlsplit(offer["offer_uri"]).query) == {"credential_offer_uri": [offer["credential_offer_uri"]]}
    assert offer["wallet_url"].startswith(PU + "/wallet#credential_offer_uri=http%3A%2F%2F")
    assert len(offer["tx_code"]) == 6 and offer["tx_code"].isdigit()
    assert datetime.fromisoformat(offer["expires_at"]) == NOW + timedelta(minutes=10)

    document = client.get(urlsplit(offer["credential_offer_uri"]).path)
    assert document.headers["cache-control"] == "no-store"
    doc = document.json()
    assert doc["credential_issuer"] == PU and doc["credential_configuration_ids"] == ["citizen_id"]
    grant = doc["grants"][GRANT]
    assert grant["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": "Mã giao dịch 6 số do cán bộ cung cấp / the 6-digit code the clerk gave you",
    }

    r = _token(client, grant["pre-authorized_code"], offer["tx_code"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 300

    holder = P256Key.generate()
    r = _credential(client, r.json()["access_token"], _good_proof(client, holder))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    [issued] = r.json()["credentials"]
    jws = parse_jws(split_compact(issued["credential"]).issuer_jwt)
    assert jws.payload["iss"] == PU + "/agencies/ca-hcm" and jws.payload["vct"] == service.VCT
    assert jws.payload["cnf"]["jwk"] == holder.public_jwk()
    assert verify_signature("ES256", signers["ca-hcm"].public_jwk(), jws.signing_input, jws.signature)


def test_the_draft_15_singular_proof_is_accepted(client: TestClient, citizen: str) -> None:
    token = _access_token(client, _offer(client, citizen))
    proof = _good_proof(client, P256Key.generate())
    body = {"credential_configuration_id": "citizen_id", "proof": {"proof_type": "jwt", "jwt": proof}}
    r = client.post("/oid4vci/credential", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def test_issued_credential_verifies_with_the_agency_key(
    client: TestClient, citizen: str, signers: dict[str, TestSigner], engine: Engine
) -> None:
    holder = P256Key.generate()
    token = _access_token(client, _offer(client, citizen))
    compact = _credential(client, token, _good_proof(client, holder)).json()["credentials"][0]["credential"]
    resolver = DictResolver()
    resolver.add("ca-hcm", signers["ca-hcm"])

    def status(uri: str) -> str:
        list_id = service.status_list_id(uri, status_base_url=PU + "/v1/status-lists")
        assert list_id is not None
        with Session(engine) as s:
            return service.status_list_token(
                s, list_id, signers["ca-hcm"], status_base_url=PU + "/v1/status-lists", now=NOW
            )

    # The holder presents it with the key its proof named: the whole pipeline says valid.
    shown = present(compact, ["age_over_18"], holder, audience="https://bank.example", now=NOW, nonce="n-1")
    report = verify_credential(shown, resolver, status, NOW, audience="https://bank.example", nonce="n-1")
    assert report.verdict.value == "valid", [(c.name, c.code, c.message) for c in report.checks]
    assert report.issuer == {"id": "ca-hcm", "name": "Công an TP.HCM"}


# ------------------------------------------------------------------------------------------------------- offers
def test_offer_for_another_agencys_citizen_is_404(client: TestClient, citizen: str) -> None:
    r = client.post(f"/v1/citizens/{citizen}/offers", headers={"Authorization": "Bearer ca-q1"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "CITIZEN_NOT_FOUND"
    nope = client.post("/v1/citizens/nope/offers", headers={"Authorization": "Bearer ca-q1"})
    assert nope.json() == r.json()
    assert client.post(f"/v1/citizens/{citizen}/offers").status_code == 401
    assert client.post(f"/v1/citizens/{citizen}/offers", headers={"Authorization": "Bearer docs"}).status_code == 403


def test_expired_offer_is_refused_everywhere(client: TestClient, citizen: str, clock: Clock) -> None:
    offer = _offer(client, citizen)
    code = _code(client, offer)
    clock.now = NOW + timedelta(minutes=10)
    gone = "the offer has expired or was already used"
    assert _oauth(client.get(urlsplit(offer["credential_offer_uri"]).path), 404, "invalid_request") == gone
    assert _oauth(_token(client, code, offer["tx_code"]), 400, "invalid_grant") == gone


def test_used_offer_is_refused(client: TestClient, citizen: str) -> None:
    offer = _offer(client, citizen)
    code = _code(client, offer)
    assert _token(client, code, offer["tx_code"]).status_code == 200
    gone = "the offer has expired or was already used"
    assert _oauth(_token(client, code, offer["tx_code"]), 400, "invalid_grant") == gone
    assert _oauth(client.get(urlsplit(offer["credential_offer_uri"]).path), 404, "invalid_request") == gone


def test_unknown_offer_is_404(client: TestClient) -> None:
    _oauth(client.get("/oid4vci/offers/nope"), 404, "invalid_request")
    assert _oauth(_token(client, "nope", "123456"), 400, "invalid_grant")


# ----------------------------------------------------------------------------------------------- token endpoint
def test_tx_code_wrong_five_times_kills_the_offer(client: TestClient, citizen: str) -> None:
    offer = _offer(client, citizen)
    code = _code(client, offer)
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    said = [_oauth(_token(client, code, wrong), 400, "invalid_grant") for _ in range(5)]
    assert said[:4] == [f"wrong transaction code, {n} {'try' if n == 1 else 'tries'} left" for n in (4, 3, 2, 1)]
    dead = "too many wrong codes: the offer is dead, ask the clerk for a new one"
    assert said[4] == dead
    # Dead is dead: the right code no longer works, and the offer document says why.
    assert _oauth(_token(client, code, offer["tx_code"]), 400, "invalid_grant") == dead
    assert _oauth(client.get(urlsplit(offer["credential_offer_uri"]).path), 404, "invalid_request") == dead


def test_the_right_code_after_wrong_ones_still_works(client: TestClient, citizen: str) -> None:
    offer = _offer(client, citizen)
    code = _code(client, offer)
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    for _ in range(4):
        _oauth(_token(client, code, wrong), 400, "invalid_grant")
    assert _token(client, code, offer["tx_code"]).status_code == 200


def test_token_request_errors(client: TestClient, citizen: str) -> None:
    offer = _offer(client, citizen)
    code = _code(client, offer)
    _oauth(_token(client, code, None), 400, "invalid_request")
    _oauth(_token(client, code, ""), 400, "invalid_request")
    _oauth(
        client.post("/oid4vci/token", data={"grant_type": "authorization_code", "code": "x"}),
        400,
        "unsupported_grant_type",
    )
    _oauth(client.post("/oid4vci/token", data={"pre-authorized_code": code}), 400, "invalid_request")
    _oauth(client.post("/oid4vci/token", data={"grant_type": GRANT}), 400, "invalid_request")
    _oauth(
        client.post("/oid4vci/token", json={"grant_type": GRANT, "pre-authorized_code": code}), 400, "invalid_request"
    )
    _oauth(
        client.post(
            "/oid4vci/token", content=b"x" * 20000, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
        400,
        "invalid_request",
    )
    # None of these was a try at the code.
    assert _token(client, code, offer["tx_code"]).status_code == 200


# ------------------------------------------------------------------------------------------ credential endpoint
def test_access_token_reuse_for_a_second_credential_is_refused(client: TestClient, citizen: str) -> None:
    token = _access_token(client, _offer(client, citizen))
    holder = P256Key.generate()
    assert _credential(client, token, _good_proof(client, holder)).status_code == 200
    r = _credential(client, token, _good_proof(client, holder))
    _oauth(r, 401, "invalid_token")
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_missing_unknown_or_expired_access_token(client: TestClient, citizen: str, clock: Clock) -> None:
    proof = _good_proof(client, P256Key.generate())
    r = client.post(
        "/oid4vci/credential", json={"credential_configuration_id": "citizen_id", "proofs": {"jwt": [proof]}}
    )
    _oauth(r, 401, "invalid_token")
    _oauth(_credential(client, "not-a-token", proof), 401, "invalid_token")
    token = _access_token(client, _offer(client, citizen))
    clock.now = NOW + timedelta(minutes=5)
    _oauth(_credential(client, token, proof), 401, "invalid_token")


def test_wrong_credential_configuration_id(client: TestClient, citizen: str) -> None:
    token = _access_token(client, _offer(client, citizen))
    proof = _good_proof(client, P256Key.generate())
    _oauth(_credential(client, token, proof, config="passport"), 400, "unknown_credential_configuration")
    r = client.post(
        "/oid4vci/credential", json={"proofs": {"jwt": [proof]}}, headers={"Authorization": f"Bearer {token}"}
    )
    _oauth(r, 400, "invalid_credential_request")
    # A refused request does not spend the token.
    assert _credential(client, token, _good_proof(client, P256Key.generate())).status_code == 200


def test_reused_c_nonce_is_refused(client: TestClient, citizen: str) -> None:
    holder = P256Key.generate()
    proof = proof_jwt(holder, aud=PU, nonce=_nonce(client), iat=int(NOW.timestamp()))
    assert _credential(client, _access_token(client, _offer(client, citizen)), proof).status_code == 200
    second = _access_token(client, _offer(client, citizen))
    _oauth(_credential(client, second, proof), 400, "invalid_nonce")
    made_up = proof_jwt(holder, aud=PU, nonce="made-up", iat=int(NOW.timestamp()))
    _oauth(_credential(client, second, made_up), 400, "invalid_nonce")
    no_nonce = proof_jwt(holder, aud=PU, nonce=None, iat=int(NOW.timestamp()))
    _oauth(_credential(client, second, no_nonce), 400, "invalid_nonce")
    assert _credential(client, second, _good_proof(client, holder)).status_code == 200


def test_expired_c_nonce_is_refused(client: TestClient, citizen: str, clock: Clock) -> None:
    holder = P256Key.generate()
    nonce = _nonce(client)
    clock.now = NOW + timedelta(minutes=5)
    token = _access_token(client, _offer(client, citizen))
    proof = proof_jwt(holder, aud=PU, nonce=nonce, iat=int(clock.now.timestamp()))
    _oauth(_credential(client, token, proof), 400, "invalid_nonce")


_IAT = int(NOW.timestamp())


@pytest.mark.parametrize(
    ("case", "kwargs", "says"),
    [
        ("wrong_aud", {"aud": "https://evil.example"}, "aud"),
        ("aud_with_slash", {"aud": PU + "/"}, "aud"),
        ("wrong_typ", {"typ": "JWT"}, "typ"),
        ("kb_typ", {"typ": "kb+jwt"}, "typ"),
        ("alg_none", {"alg": "none"}, "alg"),
        ("alg_hs256", {"alg": "HS256"}, "alg"),
        ("alg_eddsa", {"alg": "EdDSA"}, "alg"),
        ("missing_jwk", {"jwk": None}, "no jwk"),
        ("kid_instead_of_jwk", {"jwk": None, "header": {"kid": "holder-1"}}, "kid"),
        ("kid_beside_jwk", {"header": {"kid": "holder-1"}}, "kid"),
        ("x5c", {"header": {"x5c": ["MIIB"]}}, "x5c"),
        ("private_jwk", {"jwk": "private"}, "not a public P-256"),
        (
            "ed25519_jwk",
            {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
            "P-256",
        ),
        ("another_key", {"jwk": "other"}, "signature"),
        ("stale_iat", {"iat": _IAT - 301}, "iat"),
        ("future_iat", {"iat": _IAT + 301}, "iat"),
        ("string_iat", {"iat": str(_IAT)}, "iat"),
    ],
)
def test_proof_is_refused(client: TestClient, citizen: str, case: str, kwargs: dict[str, Any], says: str) -> None:
    holder = P256Key.generate()
    args: dict[str, Any] = {"aud": PU, "nonce": _nonce(client), "iat": _IAT, **kwargs}
    if args.get("jwk") == "private":
        args["jwk"] = {**holder.public_jwk(), "d": "AAAA"}
    elif args.get("jwk") == "other":
        args["jwk"] = P256Key.generate().public_jwk()
    token = _access_token(client, _offer(client, citizen))
    description = _oauth(_credential(client, token, proof_jwt(holder, **args)), 400, "invalid_proof")
    assert says in description, (case, description)
    # The token survives a bad proof, and the nonce of a refused proof was not used up.
    assert _credential(client, token, proof_jwt(holder, aud=PU, nonce=args["nonce"], iat=_IAT)).status_code == 200


def test_proof_within_five_minutes_either_way_is_accepted(client: TestClient, citizen: str) -> None:
    for iat in (_IAT - 300, _IAT + 300):
        token = _access_token(client, _offer(client, citizen))
        proof = proof_jwt(P256Key.generate(), aud=PU, nonce=_nonce(client), iat=iat)
        assert _credential(client, token, proof).status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"credential_configuration_id": "citizen_id"}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proofs": {"jwt": []}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proofs": {"jwt": ["a", "b"]}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proofs": {"ldp_vp": [{}]}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proofs": {"jwt": ["not.a.jwt"]}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proofs": {"jwt": [1]}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proof": {"proof_type": "cwt", "cwt": "x"}}, "invalid_proof"),
        ({"credential_configuration_id": "citizen_id", "proof": {}, "proofs": {}}, "invalid_credential_request"),
        ({"credential_identifier": "x", "proofs": {"jwt": ["a"]}}, "invalid_credential_request"),
        ({"credential_configuration_id": 7, "proofs": {"jwt": ["a"]}}, "invalid_credential_request"),
        ([], "invalid_credential_request"),
    ],
)
def test_malformed_credential_requests(client: TestClient, citizen: str, body: Any, error: str) -> None:
    token = _access_token(client, _offer(client, citizen))
    r = client.post("/oid4vci/credential", json=body, headers={"Authorization": f"Bearer {token}"})
    _oauth(r, 400, error)


def test_credential_request_must_be_json(client: TestClient, citizen: str) -> None:
    token = _access_token(client, _offer(client, citizen))
    auth = {"Authorization": f"Bearer {token}"}
    _oauth(client.post("/oid4vci/credential", data={"a": "b"}, headers=auth), 400, "invalid_credential_request")
    bad = client.post("/oid4vci/credential", content=b"{", headers={**auth, "Content-Type": "application/json"})
    _oauth(bad, 400, "invalid_credential_request")
