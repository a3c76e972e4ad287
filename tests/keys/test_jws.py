"""Signature round trips, and the JOSE attacks we defend against, each named for the attack."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys._crypto import b64url_decode, b64url_encode
from keys.errors import (
    InvalidInput,
    JwsAlgorithmRejected,
    JwsHeaderRejected,
    JwsMalformed,
    JwsSignatureInvalid,
    SignatureError,
    UnknownKey,
)
from keys.generate import LocalSigner, generate_signing_key
from keys.jws import sign_jws, verify_jws
from keys.keyring import AgencyProfile, KeyRecord
from keys.trust_list import sign_trust_list, verify_trust_list

from .conftest import NOW

SIGNERS = {"ES256": generate_signing_key("ES256"), "EdDSA": generate_signing_key("EdDSA")}


def _forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


def _resign(signer: LocalSigner, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A token with an arbitrary header, validly signed by ``signer``: the header itself is under test."""
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(signer.sign(f'{h}.{p}'.encode()))}"


@settings(max_examples=40, deadline=None)
@given(alg=st.sampled_from(["ES256", "EdDSA"]), payload=st.binary(max_size=512))
def test_sign_verify_round_trip(alg: str, payload: bytes) -> None:
    signer = SIGNERS[alg]
    verified = verify_jws(sign_jws(signer, payload), signer.public_jwk())
    assert verified.payload == payload
    assert verified.header == {"alg": alg, "kid": signer.kid}


@settings(max_examples=40, deadline=None)
@given(
    alg=st.sampled_from(["ES256", "EdDSA"]),
    claims=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=5),
    flip=st.integers(min_value=0),
)
def test_any_altered_byte_breaks_the_signature(alg: str, claims: dict[str, Any], flip: int) -> None:
    signer = SIGNERS[alg]
    token = sign_jws(signer, claims)
    h, p, s = token.split(".")
    raw = bytearray(b64url_decode(p))
    raw[flip % len(raw)] ^= 0x01
    with pytest.raises(SignatureError):
        verify_jws(f"{h}.{b64url_encode(bytes(raw))}.{s}", signer.public_jwk())


def test_alg_none_rejected() -> None:
    signer = SIGNERS["ES256"]
    for alg in ("none", "None", "NONE"):
        token = _forge({"alg": alg, "kid": signer.kid}, {"iss": "ubnd-hcm"})
        with pytest.raises(JwsAlgorithmRejected):
            verify_jws(token, signer.public_jwk())


def test_hs256_with_public_key_as_secret_rejected() -> None:
    """Algorithm confusion: an attacker MACs with the public key, hoping the verifier uses it as an HMAC secret."""
    signer = SIGNERS["ES256"]
    jwk = signer.public_jwk()
    header = {"alg": "HS256", "kid": signer.kid}
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(b'{"iss":"ubnd-hcm","sha256":"00"}')
    for secret in (json.dumps(jwk).encode(), b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])):
        mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
        with pytest.raises(JwsAlgorithmRejected):
            verify_jws(f"{h}.{p}.{b64url_encode(mac)}", jwk)
        with pytest.raises(JwsAlgorithmRejected):
            verify_jws(f"{h}.{p}.{b64url_encode(mac)}", jwk, allowed_algs=("ES256", "HS256"))


def test_header_alg_cannot_choose_another_algorithm_for_the_key() -> None:
    es, ed = SIGNERS["ES256"], SIGNERS["EdDSA"]
    token = _resign(ed, {"alg": "EdDSA", "kid": es.kid}, {"x": 1})
    with pytest.raises(SignatureError):
        verify_jws(token, es.public_jwk())
    with pytest.raises(JwsAlgorithmRejected):
        verify_jws(sign_jws(ed, b"x"), {**ed.public_jwk()}, allowed_algs=("ES256",))


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_jku_x5u_headers_rejected(member: str) -> None:
    """A header pointing at a URL must never make us fetch (and trust) a key, even when the signature is fine."""
    signer = SIGNERS["ES256"]
    token = _resign(signer, {"alg": "ES256", "kid": signer.kid, member: "http://127.0.0.1:9/keys"}, {"a": 1})
    with pytest.raises(JwsHeaderRejected):
        verify_jws(token, signer.public_jwk())


@pytest.mark.parametrize("member", ["jwk", "x5c"])
def test_embedded_key_headers_rejected(member: str) -> None:
    attacker = SIGNERS["ES256"]
    embedded: Any = attacker.public_jwk() if member == "jwk" else ["MIIB"]
    token = _resign(attacker, {"alg": "ES256", "kid": attacker.kid, member: embedded}, {"a": 1})
    with pytest.raises(JwsHeaderRejected):
        verify_jws(token, attacker.public_jwk())


def test_crit_header_rejected() -> None:
    signer = SIGNERS["EdDSA"]
    token = _resign(signer, {"alg": "EdDSA", "kid": signer.kid, "crit": ["exp"], "exp": 1}, {"a": 1})
    with pytest.raises(JwsHeaderRejected):
        verify_jws(token, signer.public_jwk())


def test_signer_cannot_set_refused_headers() -> None:
    with pytest.raises(InvalidInput):
        sign_jws(SIGNERS["ES256"], b"x", {"jku": "http://x"})
    with pytest.raises(InvalidInput):
        sign_jws(SIGNERS["ES256"], b"x", {"alg": "none"})


def test_wrong_key_rejected() -> None:
    token = sign_jws(SIGNERS["ES256"], b"x")
    other = generate_signing_key("ES256")
    with pytest.raises(UnknownKey):  # the kid names a different key
        verify_jws(token, other.public_jwk())
    forged = _resign(SIGNERS["ES256"], {"alg": "ES256", "kid": other.kid}, {"a": 1})
    with pytest.raises(JwsSignatureInvalid):
        verify_jws(forged, other.public_jwk())


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!.e30.AA", "e30=.e30.AA", "W10.e30.AA"])
def test_malformed_tokens_rejected(token: str) -> None:
    with pytest.raises(JwsMalformed):
        verify_jws(token, SIGNERS["ES256"].public_jwk())


def _trust_list() -> tuple[Any, dict[str, LocalSigner]]:
    root = generate_signing_key("ES256")
    keys = {"ubnd-hcm": generate_signing_key("ES256"), "ca-hcm": generate_signing_key("EdDSA")}
    entries = [
        (
            AgencyProfile(a, a, a, ("documents",) if a == "ubnd-hcm" else ("identity",)),
            [KeyRecord(s.kid, s.alg, s.public_jwk(), NOW - timedelta(days=1))],
        )
        for a, s in keys.items()
    ]
    tl = verify_trust_list(sign_trust_list(root, entries, NOW, 1), root.public_jwk(), NOW)
    return tl, keys


def test_kid_pointing_at_other_agency_rejected() -> None:
    """The police's key signs a document in the People's Committee's name: the kid is not among UBND's keys."""
    tl, keys = _trust_list()
    police = keys["ca-hcm"]
    token = sign_jws(police, {"iss": "ubnd-hcm", "doc": "2392/QĐ-UBND"})
    with pytest.raises(UnknownKey):
        verify_jws(token, tl)
    with pytest.raises(UnknownKey):
        verify_jws(token, tl, issuer_id="ubnd-hcm")
    assert verify_jws(token, tl, issuer_id="ca-hcm").trusted_key is not None


def test_resolver_round_trip_through_trust_list() -> None:
    tl, keys = _trust_list()
    token = sign_jws(keys["ubnd-hcm"], {"iss": "ubnd-hcm", "n": 1})
    verified = tl.verify(token, signed_at=NOW, role="documents")
    assert verified.claims() == {"iss": "ubnd-hcm", "n": 1}
    assert verified.trusted_key is not None and verified.trusted_key.issuer_id == "ubnd-hcm"
