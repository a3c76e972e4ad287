"""The wallet's OpenID4VCI and OpenID4VP client (identity/holder/) against small fakes of the issuer's and the
verifier's HTTP answers (httpx.MockTransport): link parsing, the checks the wallet makes, and the typed errors. The
flows against the real server are in tests/interop/."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import pytest

from identity import holder
from identity.errors import (
    IssuerError,
    OfferUnavailable,
    RequestObjectInvalid,
    TxCodeWrong,
    VerifierError,
    WalletError,
    WalletLinkInvalid,
)
from identity.presentation import sd_hash
from identity.sdjwt import issue_sd_jwt, parse_jws, split_compact
from identity.service import VCT
from identity.wallet import Wallet, create_wallet
from keys.encoding import b64url_decode, b64url_encode, json_bytes
from keys.generate import generate_signing_key
from keys.holder_key import P256Key
from keys.jws import verify_signature
from keys.x509 import self_signed_certificate, x509_hash_client_id
from tests.identity.conftest import TestSigner

PU = "https://id.example.vn"
NOW = datetime.now(UTC).replace(microsecond=0)
OFFER_URI = f"{PU}/oid4vci/offers/o1"
CLAIMS = {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "2003-05-17", "age_over_18": True, "sex": "female"}


@pytest.fixture
def wallet(tmp_path: Path) -> Wallet:
    return create_wallet(tmp_path / "wallet.json", "pass", scrypt_n=2**10)


def _json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


# --- OpenID4VCI ------------------------------------------------------------------------------------------------------


class FakeIssuer:
    """The answers of an issuer that follows the brief's protocol, recording what the wallet sent."""

    def __init__(self, *, tx_code: str = "123456", bind_to: dict[str, Any] | None = None) -> None:
        self.tx_code = tx_code
        self.bind_to = bind_to  # a key to bind the credential to instead of the proof's
        self.signer = TestSigner()
        self.seen: dict[str, Any] = {}
        self.token_answer: httpx.Response | None = None
        self.offer_answer: httpx.Response | None = None

    def offer(self) -> dict[str, Any]:
        tx = {"input_mode": "numeric", "length": 6, "description": "the 6-digit code the clerk gave you"}
        grant = {"pre-authorized_code": "pac-1", "tx_code": tx}
        return {
            "credential_issuer": PU,
            "credential_configuration_ids": ["citizen_id"],
            "grants": {holder.PRE_AUTHORIZED_GRANT: grant},
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/oid4vci/offers/o1":
            return self.offer_answer or _json(self.offer())
        if path == "/.well-known/openid-credential-issuer":
            config = {
                "format": "dc+sd-jwt",
                "vct": VCT,
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
            }
            return _json(
                {
                    "credential_issuer": PU,
                    "credential_endpoint": f"{PU}/oid4vci/credential",
                    "nonce_endpoint": f"{PU}/oid4vci/nonce",
                    "display": [{"name": "Công an TP.HCM", "locale": "vi"}, {"name": "HCMC Police", "locale": "en"}],
                    "credential_configurations_supported": {"citizen_id": config},
                }
            )
        if path == "/.well-known/oauth-authorization-server":
            return _json({"issuer": PU, "token_endpoint": f"{PU}/oid4vci/token"})
        if path == "/oid4vci/token":
            self.seen["token"] = _form(request)
            if self.token_answer is not None:
                return self.token_answer
            if self.seen["token"].get("tx_code") != self.tx_code:
                return _json(
                    {"error": "invalid_grant", "error_description": "wrong transaction code, 4 tries left"}, 400
                )
            return _json({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300})
        if path == "/oid4vci/nonce":
            return _json({"c_nonce": "cn-1"})
        if path == "/oid4vci/credential":
            assert request.headers["Authorization"] == "Bearer at-1"
            body = json.loads(request.content)
            self.seen["credential"] = body
            proof = parse_jws(body["proofs"]["jwt"][0])
            self.seen["proof"] = proof
            jwk = self.bind_to or proof.header["jwk"]
            visible = {"iss": f"{PU}/agencies/cong-an-hcm", "vct": VCT, "iat": 1, "cnf": {"jwk": jwk}}
            issued = issue_sd_jwt(self.signer, visible, CLAIMS, os.urandom)
            return _json({"credentials": [{"credential": issued.compact}]})
        return _json({"error": "not_found"}, 404)


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_offer_links_in_their_three_forms() -> None:
    pct = quote(OFFER_URI, safe="")
    for link in (
        f"openid-credential-offer://?credential_offer_uri={pct}",
        f"{PU}/wallet#credential_offer_uri={pct}",
        OFFER_URI,
    ):
        assert holder.parse_offer_link(link).credential_offer_uri == OFFER_URI, link
    by_value = holder.parse_offer_link("openid-credential-offer://?credential_offer=" + quote(json.dumps({"a": 1})))
    assert by_value.credential_offer == {"a": 1}


@pytest.mark.parametrize(
    "link",
    [
        "",
        "hello",
        "openid-credential-offer://?foo=bar",
        "openid-credential-offer://?credential_offer_uri=" + quote("http://evil.example/o", safe=""),
        "ftp://id.example.vn/o",
        "http://id.example.vn/oid4vci/offers/o1",
    ],
)
def test_a_link_that_is_no_offer_is_refused(link: str) -> None:
    with pytest.raises(WalletLinkInvalid):
        holder.parse_offer_link(link)


def test_receive_runs_the_pre_authorized_flow_and_stores_a_bound_credential(wallet: Wallet) -> None:
    issuer = FakeIssuer()
    with _client(issuer) as client:
        offer = holder.fetch_offer(client, OFFER_URI)
        assert offer.tx_code_length == 6
        got = holder.receive(client, wallet, offer, tx_code="123456", now=NOW)
    assert issuer.seen["token"] == {
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": "pac-1",
        "tx_code": "123456",
    }
    assert issuer.seen["credential"]["credential_configuration_id"] == "citizen_id"
    proof = issuer.seen["proof"]
    assert proof.header["typ"] == "openid4vci-proof+jwt" and proof.header["alg"] == "ES256"
    assert "kid" not in proof.header and "x5c" not in proof.header
    assert proof.header["jwk"] == {k: wallet.holder_jwk()[k] for k in ("kty", "crv", "x", "y")}
    assert proof.payload == {"aud": PU, "iat": int(NOW.timestamp()), "nonce": "cn-1"}
    assert verify_signature("ES256", proof.header["jwk"], proof.signing_input, proof.signature)
    assert got.issuer_name == "Công an TP.HCM" and got.claims["full_name"] == CLAIMS["full_name"]
    assert wallet.entries == [got.entry]


def test_a_wrong_tx_code_says_how_many_tries_are_left(wallet: Wallet) -> None:
    with _client(FakeIssuer()) as client:
        offer = holder.fetch_offer(client, OFFER_URI)
        with pytest.raises(TxCodeWrong) as caught:
            holder.receive(client, wallet, offer, tx_code="000000", now=NOW)
        assert caught.value.tries_left == 4
        with pytest.raises(TxCodeWrong):  # asked for, not given: nothing is sent
            holder.receive(client, wallet, offer, tx_code=None, now=NOW)
    assert wallet.entries == []


@pytest.mark.parametrize(
    "description", ["the offer has expired or was already used", "too many wrong codes: the offer is dead"]
)
def test_a_used_expired_or_dead_offer_is_offer_unavailable(wallet: Wallet, description: str) -> None:
    issuer = FakeIssuer()
    issuer.token_answer = _json({"error": "invalid_grant", "error_description": description}, 400)
    with _client(issuer) as client:
        offer = holder.fetch_offer(client, OFFER_URI)
        with pytest.raises(OfferUnavailable, match=description):
            holder.receive(client, wallet, offer, tx_code="123456", now=NOW)
        issuer.offer_answer = _json({"error": "invalid_request", "error_description": "no such offer"}, 404)
        with pytest.raises(OfferUnavailable):
            holder.fetch_offer(client, OFFER_URI)


def test_a_credential_bound_to_another_key_is_refused(wallet: Wallet) -> None:
    issuer = FakeIssuer(bind_to=P256Key.generate().public_jwk())
    with _client(issuer) as client, pytest.raises(WalletError, match="not bound"):
        holder.receive(client, wallet, holder.fetch_offer(client, OFFER_URI), tx_code="123456", now=NOW)
    assert wallet.entries == []


def test_an_unreachable_issuer_is_issuer_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _client(down) as client, pytest.raises(IssuerError, match="could not reach"):
        holder.fetch_offer(client, OFFER_URI)


# --- OpenID4VP -------------------------------------------------------------------------------------------------------


class FakeVerifier:
    """A verifier that signs its request objects with an x5c certificate and records the wallet's answer."""

    def __init__(self, claims: list[str], *, exp_delta: int = 300) -> None:
        self.signer = generate_signing_key("ES256")
        self.cert = self_signed_certificate(self.signer, "id.example.vn", NOW)
        self.client_id = x509_hash_client_id(self.cert)
        self.claims = claims
        self.exp_delta = exp_delta
        self.posted: dict[str, str] | None = None
        self.tamper: Callable[[str], str] = lambda token: token
        self.header_extra: dict[str, Any] = {}

    @property
    def link(self) -> str:
        q = quote(self.client_id, safe="")
        return f"openid4vp://?client_id={q}&request_uri={quote(PU + '/oid4vp/requests/h1', safe='')}"

    def request_object(self) -> str:
        header = {
            "alg": "ES256",
            "typ": "oauth-authz-req+jwt",
            "x5c": [base64.b64encode(self.cert).decode()],
            **self.header_extra,
        }
        payload = {
            "client_id": self.client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post",
            "response_uri": f"{PU}/oid4vp/responses/h1",
            "nonce": "n-123",
            "state": "h1",
            "aud": "https://self-issued.me/v2",
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + self.exp_delta,
            "purpose": "mở tài khoản",
            "client_metadata": {"client_name": "xacthuc (id.example.vn)"},
            "dcql_query": {
                "credentials": [
                    {
                        "id": "citizen_id",
                        "format": "dc+sd-jwt",
                        "meta": {"vct_values": [VCT]},
                        "claims": [{"path": [c]} for c in self.claims],
                    }
                ]
            },
        }
        signing_input = b64url_encode(json_bytes(header)) + "." + b64url_encode(json_bytes(payload))
        return self.tamper(signing_input + "." + b64url_encode(self.signer.sign(signing_input.encode())))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oid4vp/requests/h1":
            headers = {"Content-Type": "application/oauth-authz-req+jwt"}
            return httpx.Response(200, content=self.request_object().encode(), headers=headers)
        if request.url.path == "/oid4vp/responses/h1":
            self.posted = _form(request)
            return _json({})
        return _json({"error": "not_found"}, 404)


@pytest.fixture
def holding(wallet: Wallet) -> Wallet:
    issuer = FakeIssuer()
    with _client(issuer) as client:
        holder.receive(client, wallet, holder.fetch_offer(client, OFFER_URI), tx_code="123456", now=NOW)
    return wallet


def test_request_links_in_both_forms() -> None:
    verifier = FakeVerifier(["age_over_18"])
    https = f"{PU}/wallet#" + verifier.link.split("?", 1)[1]
    for link in (verifier.link, https):
        ref = holder.parse_request_link(link)
        assert ref.client_id == verifier.client_id and ref.request_uri == f"{PU}/oid4vp/requests/h1"
    for bad in ("openid4vp://?client_id=x", "mailto:x", "openid4vp://?client_id=x&request=eyJ"):
        with pytest.raises(WalletLinkInvalid):
            holder.parse_request_link(bad)


def test_respond_checks_the_request_object_and_posts_only_the_asked_claims(holding: Wallet) -> None:
    verifier = FakeVerifier(["age_over_18", "full_name"])
    with _client(verifier) as client:
        request = holder.fetch_request(client, verifier.link, now=NOW)
        assert request.claims == ("age_over_18", "full_name")
        assert request.client_name == "xacthuc (id.example.vn)" and request.purpose == "mở tài khoản"
        assert request.response_host == "id.example.vn"
        answer = holder.respond(client, holding, request, now=NOW)
    assert answer.status_code == 200 and answer.body == {}
    assert verifier.posted is not None and verifier.posted["state"] == "h1"
    presented = json.loads(verifier.posted["vp_token"])["citizen_id"][0]
    sd = split_compact(presented)
    names = sorted(json.loads(b64url_decode(d))[1] for d in sd.disclosures)
    assert names == ["age_over_18", "full_name"]
    assert sd.kb_jwt is not None
    kb = parse_jws(sd.kb_jwt)
    assert kb.header["typ"] == "kb+jwt"
    assert kb.payload["aud"] == verifier.client_id and kb.payload["nonce"] == "n-123"
    assert kb.payload["sd_hash"] == sd_hash(sd.presented)


def test_refuse_posts_access_denied(holding: Wallet) -> None:
    verifier = FakeVerifier(["age_over_18"])
    with _client(verifier) as client:
        holder.refuse(client, holder.fetch_request(client, verifier.link, now=NOW))
    assert verifier.posted is not None
    assert verifier.posted["error"] == "access_denied" and verifier.posted["state"] == "h1"
    assert "vp_token" not in verifier.posted


def _other_certificate(verifier: FakeVerifier) -> None:
    other = FakeVerifier(["age_over_18"])
    verifier.header_extra = {"x5c": [base64.b64encode(other.cert).decode()]}


def _tampered(verifier: FakeVerifier) -> None:
    def swap(token: str) -> str:
        h, p, s = token.split(".")
        payload = json.loads(b64url_decode(p))
        payload["response_uri"] = "https://evil.example/collect"
        return f"{h}.{b64url_encode(json_bytes(payload))}.{s}"

    verifier.tamper = swap


def _wrong_typ(verifier: FakeVerifier) -> None:
    verifier.header_extra = {"typ": "JWT"}


def _expired(verifier: FakeVerifier) -> None:
    verifier.exp_delta = -1


@pytest.mark.parametrize("attack", [_other_certificate, _tampered, _wrong_typ, _expired])
def test_a_request_not_signed_by_the_named_verifier_is_refused(
    holding: Wallet, attack: Callable[[FakeVerifier], None]
) -> None:
    verifier = FakeVerifier(["age_over_18"])
    attack(verifier)
    with _client(verifier) as client, pytest.raises(RequestObjectInvalid):
        holder.fetch_request(client, verifier.link, now=NOW)
    assert verifier.posted is None


def test_a_refused_answer_is_verifier_error(holding: Wallet) -> None:
    verifier = FakeVerifier(["age_over_18"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return _json({"error": "invalid_request", "error_description": "already answered"}, 400)
        return verifier(request)

    with _client(handler) as client:
        request = holder.fetch_request(client, verifier.link, now=NOW)
        with pytest.raises(VerifierError, match="already answered"):
            holder.respond(client, holding, request, now=NOW + timedelta(seconds=1))
