"""Interoperability with the SD-JWT reference implementation (``sd-jwt``, test-only).

The reference verifier skips ``exp`` and only does ES256 key binding with both ``aud`` and ``nonce``; we test
around that: expiry and freshness are covered by our own verifier's tests, not asserted through theirs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier
from sqlmodel import Session

from identity import service
from identity.presentation import present
from keys.holder_key import P256Key
from tests.identity.conftest import CITIZEN, ISSUER, NOW, STATUS_BASE, DictResolver, TestSigner
from verifier.credential import verify_credential


def _jwcrypto(jwk: dict[str, Any], private: bytes | None = None) -> JWK:
    members = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    if private is not None:
        from keys.encoding import b64url_encode

        members["d"] = b64url_encode(private)
    return JWK.from_json(json.dumps(members))


def test_our_presentation_verifies_with_the_reference(session: Session, issuer_signer: TestSigner) -> None:
    citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    holder = P256Key.generate()
    _, cred = service.issue_credential(
        session, citizen.id, issuer_signer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    pres = present(cred, ["full_name", "age_over_18"], holder, audience="https://bank.example", nonce="n1", now=NOW)
    issuer_key = _jwcrypto(issuer_signer.public_jwk())
    v = SDJWTVerifier(pres, lambda iss, header: issuer_key, expected_aud="https://bank.example", expected_nonce="n1")
    claims = v.get_verified_payload()
    assert claims["full_name"] == "Nguyễn Thị Minh Khai"
    assert claims["age_over_18"] is True
    assert "birth_date" not in claims and "personal_id" not in claims
    assert claims["vct"] == service.VCT

    with pytest.raises(Exception):  # noqa: B017 (the reference raises plain exceptions)
        SDJWTVerifier(pres, lambda iss, header: issuer_key, expected_aud="https://evil.example", expected_nonce="n1")


def test_reference_tokens_verify_with_ours() -> None:
    issuer = TestSigner(kid="ref-key")
    issuer_key = _jwcrypto(issuer.public_jwk(), issuer.key.private_numbers().private_value.to_bytes(32, "big"))
    holder = P256Key.generate()
    holder_key = _jwcrypto(holder.public_jwk(), holder.private_bytes())
    now = datetime.now(UTC)  # the reference stamps its KB-JWT with the real time
    iat = int(now.timestamp())
    claims = {
        "iss": ISSUER,
        "iat": iat,
        "exp": iat + 3600,
        "vct": service.VCT,
        SDObj("given_name"): "Khai",
        SDObj("family_name"): "Nguyễn",
        SDObj("age_over_18"): True,
    }
    issued = SDJWTIssuer(
        claims,
        issuer_key,
        holder_key,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "ref-key"},
    ).sd_jwt_issuance
    h = SDJWTHolder(issued)
    h.create_presentation({"given_name": True, "age_over_18": True}, "n2", "https://bank.example", holder_key)
    resolver = DictResolver()
    resolver.add(ISSUER, issuer, not_before=now - timedelta(days=1))

    def no_status(uri: str) -> str:
        raise AssertionError("the reference token has no status")

    report = verify_credential(
        h.sd_jwt_presentation, resolver, no_status, now, audience="https://bank.example", nonce="n2"
    )
    assert report.verdict == "valid", report.to_dict()
    assert report.claims == {"given_name": "Khai", "age_over_18": True}

    # Where the reference would accept, we still enforce expiry.
    later = now + timedelta(hours=2)
    assert verify_credential(h.sd_jwt_presentation, resolver, no_status, later).verdict != "valid"
