"""Algorithm confusion against the one signature core (``keys.jws``), through each of its users: document receipts,
citizen ID credentials (the issuer JWT) and key-binding JWTs. Each test is named for the attack."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from identity.presentation import present
from identity.sdjwt import issue_sd_jwt, parse_jws, split_compact
from keys.encoding import b64url_decode, b64url_encode
from keys.generate import LocalSigner, generate_signing_key
from keys.holder_key import P256Key
from keys.jws import verify_signature
from keys.protocols import TrustedKey
from ledger.documents.receipt import ReceiptFields, Registry, sign_receipt, signed_bytes
from ledger.documents.receipt import verify_signature as verify_receipt
from verifier.credential import verify_credential

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ISSUER = "https://id.hcmc.example"
AUD = "https://bank.example"
ES = generate_signing_key("ES256")
ED = generate_signing_key("EdDSA")
HOLDER = P256Key.generate()
REFUSED_ALGS = ["none", "None", "HS256", "HS384", "HS512", "ES384", "RS256", "PS256", ""]


def _hmac_forgeries(jwk: dict[str, Any], message: bytes) -> list[bytes]:
    """What an attacker MACs with when hoping the verifier takes the public key as an HMAC secret."""
    secrets = [json.dumps(jwk).encode(), json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()]
    secrets.append(b64url_decode(jwk["x"]) + (b64url_decode(jwk["y"]) if "y" in jwk else b""))
    return [hmac.new(s, message, hashlib.sha256).digest() for s in secrets]


def _hmac_sha256(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def verify_token(token: str, jwk: dict[str, Any]) -> bool:
    """The KB-JWT path, the most exposed: the algorithm is the token's own header ``alg``, and only the core's rules
    (allow-list, the key decides) stand between it and the key."""
    jws = parse_jws(token)
    return verify_signature(str(jws.header.get("alg")), jwk, jws.signing_input, jws.signature)


def _token(header: dict[str, Any], payload: dict[str, Any], sign: Any) -> str:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(sign(f'{h}.{p}'.encode()))}"


# --- the core ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", REFUSED_ALGS)
def test_core_refuses_every_algorithm_outside_the_allow_list(alg: str) -> None:
    message = b"header.payload"
    for signer in (ES, ED):
        sig = signer.sign(message)
        assert verify_signature(signer.alg, signer.public_jwk(), message, sig)
        assert not verify_signature(alg, signer.public_jwk(), message, sig)
        token = _token({"alg": alg, "kid": signer.kid}, {"a": 1}, signer.sign)
        assert not verify_token(token, signer.public_jwk())


def test_core_hs256_with_the_public_key_as_secret_never_verifies() -> None:
    jwk = ES.public_jwk()
    header = b64url_encode(json.dumps({"alg": "HS256", "kid": ES.kid}).encode())
    payload = b64url_encode(b'{"iss":"x"}')
    for mac in _hmac_forgeries(jwk, f"{header}.{payload}".encode()):
        token = f"{header}.{payload}.{b64url_encode(mac)}"
        assert not verify_token(token, jwk)
        for alg in ("HS256", "ES256"):
            assert not verify_signature(alg, jwk, f"{header}.{payload}".encode(), mac)


def test_core_alg_none_with_an_empty_signature_never_verifies() -> None:
    token = _token({"alg": "none"}, {"iss": "x"}, lambda m: b"")
    assert not verify_token(token, ES.public_jwk())


def test_core_the_key_decides_the_algorithm_not_the_caller() -> None:
    """An EdDSA signature offered for a P-256 key (or the reverse) fails, whatever alg the caller passes."""
    message = b"m"
    assert not verify_signature("EdDSA", ES.public_jwk(), message, ED.sign(message))
    assert not verify_signature("ES256", ED.public_jwk(), message, ES.sign(message))
    token = _token({"alg": "EdDSA", "kid": ES.kid}, {"a": 1}, ED.sign)
    assert not verify_token(token, ES.public_jwk())
    assert verify_token(_token({"alg": "EdDSA", "kid": ED.kid}, {"a": 1}, ED.sign), ED.public_jwk())


def test_core_a_private_jwk_is_never_a_verification_key() -> None:
    message = b"m"
    jwk = {**ES.public_jwk(), "d": b64url_encode(bytes(32))}
    assert not verify_signature("ES256", jwk, message, ES.sign(message))


# --- receipts ----------------------------------------------------------------------------------------------------


def _receipt(signer: LocalSigner) -> Any:
    fields = ReceiptFields(
        issuer_id="ubnd-hcm",
        document_id=bytes(range(16)),
        file_sha256=hashlib.sha256(b"file").digest(),
        metadata_digest=hashlib.sha256(b"meta").digest(),
        issued_at=NOW,
        registry=Registry.of(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3"),
        number="12/QĐ-UBND",
        issued_on=date(2026, 3, 1),
    )
    return sign_receipt(signer, fields)


@pytest.mark.parametrize("alg", REFUSED_ALGS)
def test_receipt_alg_outside_the_allow_list_never_verifies(alg: str) -> None:
    receipt = _receipt(ES)
    assert verify_receipt(receipt, "ES256", ES.public_jwk())
    assert not verify_receipt(receipt, alg, ES.public_jwk())


def test_receipt_hs256_with_the_public_key_as_secret_never_verifies() -> None:
    receipt = _receipt(ES)
    for mac in _hmac_forgeries(ES.public_jwk(), signed_bytes(receipt)):
        forged = dataclasses.replace(receipt, signature=mac + mac)  # a receipt carries 64 signature bytes
        forged_32 = dataclasses.replace(receipt, signature=mac)
        for alg in ("HS256", "ES256", "EdDSA"):
            assert not verify_receipt(forged, alg, ES.public_jwk())
            assert not verify_receipt(forged_32, alg, ES.public_jwk())


def test_receipt_alg_and_key_mismatch_never_verifies() -> None:
    """The trust list says ES256 for a P-256 key: an EdDSA-signed receipt with that kid fails, and vice versa."""
    receipt = _receipt(ED)
    assert verify_receipt(receipt, "EdDSA", ED.public_jwk())
    assert not verify_receipt(receipt, "ES256", ED.public_jwk())
    assert not verify_receipt(receipt, "EdDSA", ES.public_jwk())
    assert not verify_receipt(receipt, "ES256", ES.public_jwk())


# --- credentials and key-binding JWTs -----------------------------------------------------------------------------


class _Resolver:
    def __init__(self, *signers: LocalSigner) -> None:
        self.keys = {
            s.kid: TrustedKey(
                ISSUER,
                "Công an TP.HCM",
                s.kid,
                s.alg,
                s.public_jwk(),
                frozenset({"identity"}),
                NOW - timedelta(days=1),
                None,
                "active",
            )
            for s in signers
        }

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return self.keys.get(kid) if issuer_id == ISSUER else None


def _credential(signer: LocalSigner = ES) -> str:
    iat = int(NOW.timestamp())
    visible = {"iss": ISSUER, "iat": iat, "exp": iat + 3600, "vct": "urn:test", "cnf": {"jwk": HOLDER.public_jwk()}}
    return issue_sd_jwt(signer, visible, {"given_name": "An"}, os.urandom).compact


def _codes(text: str, resolver: _Resolver) -> dict[str, str]:
    report = verify_credential(text, resolver, lambda uri: "", NOW, audience=AUD)
    return {c.name: c.code for c in report.checks} | {"verdict": report.verdict.value}


def _reissued(header: dict[str, Any], sign: Any) -> str:
    """The credential with a new issuer header and signature, then presented with a good KB-JWT."""
    sd = split_compact(_credential())
    _, payload, _ = sd.issuer_jwt.split(".")
    h = b64url_encode(json.dumps(header).encode())
    jwt = f"{h}.{payload}.{b64url_encode(sign(f'{h}.{payload}'.encode()))}"
    return present(jwt + "~" + "~".join(sd.disclosures) + "~", ["given_name"], HOLDER, audience=AUD, now=NOW)


def test_credential_baseline_verifies() -> None:
    text = present(_credential(), ["given_name"], HOLDER, audience=AUD, now=NOW)
    assert _codes(text, _Resolver(ES))["verdict"] == "valid"


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_credential_none_or_hs256_with_the_public_key_is_refused(alg: str) -> None:
    jwk = ES.public_jwk()
    secrets = (json.dumps(jwk).encode(), b64url_decode(jwk["x"]) + b64url_decode(jwk["y"]))
    forgeries = [lambda m: b""] + [functools.partial(_hmac_sha256, s) for s in secrets]
    for forge in forgeries:
        codes = _codes(_reissued({"alg": alg, "typ": "dc+sd-jwt", "kid": ES.kid}, forge), _Resolver(ES))
        assert codes["signature"] == "ALG_NOT_ALLOWED"
        assert codes["verdict"] == "invalid"


def test_credential_alg_kid_mismatch_is_refused() -> None:
    """The header names the issuer's P-256 key but says EdDSA, signed by an EdDSA key the issuer also holds."""
    codes = _codes(_reissued({"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": ES.kid}, ED.sign), _Resolver(ES, ED))
    assert codes["signature"] == "ALG_NOT_ALLOWED"
    assert codes["verdict"] == "invalid"


def _with_kb(header: dict[str, Any], sign: Any) -> str:
    good = present(_credential(), ["given_name"], HOLDER, audience=AUD, now=NOW)
    presented, kb = good.rsplit("~", 1)
    _, payload, _ = kb.split(".")
    h = b64url_encode(json.dumps(header).encode())
    return f"{presented}~{h}.{payload}.{b64url_encode(sign(f'{h}.{payload}'.encode()))}"


@pytest.mark.parametrize(
    ("header", "sign"),
    [
        ({"alg": "none", "typ": "kb+jwt"}, lambda m: b""),
        (
            {"alg": "HS256", "typ": "kb+jwt"},
            lambda m: hmac.new(json.dumps(HOLDER.public_jwk()).encode(), m, hashlib.sha256).digest(),
        ),
        (
            {"alg": "HS256", "typ": "kb+jwt"},
            lambda m: hmac.new(
                b64url_decode(HOLDER.public_jwk()["x"]) + b64url_decode(HOLDER.public_jwk()["y"]), m, hashlib.sha256
            ).digest(),
        ),
        ({"alg": "EdDSA", "typ": "kb+jwt"}, ED.sign),  # the holder key is P-256: EdDSA is not its algorithm
        ({"alg": "ES256", "typ": "kb+jwt", "kid": "another-key"}, ES.sign),  # signed by a key that is not cnf's
    ],
    ids=["none", "hs256-public-jwk", "hs256-public-point", "eddsa-for-p256", "other-key"],
)
def test_kb_jwt_algorithm_confusion_is_refused(header: dict[str, Any], sign: Any) -> None:
    codes = _codes(_with_kb(header, sign), _Resolver(ES))
    assert codes["key_binding"] == "KB_SIGNATURE_INVALID"
    assert codes["verdict"] == "invalid"
