from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from keys._crypto import b64url_decode
from keys.errors import (
    JwsSignatureInvalid,
    KeyCompromised,
    KeyRoleNotAllowed,
    SignatureError,
    TrustListExpired,
    TrustListInvalid,
    TrustListRollback,
    UnknownKey,
)
from keys.generate import LocalSigner, generate_signing_key
from keys.jws import sign_jws
from keys.keyring import AgencyProfile, KeyRecord
from keys.trust_list import TYP, sign_trust_list, verify_trust_list

from .conftest import NOW

ROOT = generate_signing_key("ES256")
UBND = generate_signing_key("ES256")
POLICE = generate_signing_key("EdDSA")


def _entries() -> list[tuple[AgencyProfile, list[KeyRecord]]]:
    nb = NOW - timedelta(days=30)
    return [
        (
            AgencyProfile(
                "ubnd-hcm", "Ủy ban nhân dân TP.HCM", "HCMC People's Committee", ("documents",), "0x" + "11" * 20
            ),
            [KeyRecord(UBND.kid, UBND.alg, UBND.public_jwk(), nb)],
        ),
        (
            AgencyProfile("ca-hcm", "Công an TP.HCM", "HCMC Police", ("identity",)),
            [KeyRecord(POLICE.kid, POLICE.alg, POLICE.public_jwk(), nb)],
        ),
    ]


def _payload(version: int = 3) -> dict[str, Any]:
    token = sign_trust_list(ROOT, _entries(), NOW, version)
    return json.loads(b64url_decode(token.split(".")[1]))


def _signed(payload: dict[str, Any], signer: LocalSigner = ROOT) -> str:
    return sign_jws(signer, payload, {"typ": TYP})


def test_valid_list_resolves_keys() -> None:
    tl = verify_trust_list(sign_trust_list(ROOT, _entries(), NOW, 3), ROOT.public_jwk(), NOW, min_version=3)
    key = tl.resolve("ubnd-hcm", UBND.kid)
    assert key is not None and key.roles == {"documents"} and key.issuer_name == "Ủy ban nhân dân TP.HCM"
    assert key.eth_address == "0x" + "11" * 20
    assert tl.resolve("ubnd-hcm", POLICE.kid) is None
    assert tl.agency("ca-hcm") is not None and tl.agency("nobody") is None
    assert tl.version == 3


def test_bad_signature_rejected() -> None:
    token = sign_trust_list(ROOT, _entries(), NOW, 3)
    h, p, s = token.split(".")
    sig = bytearray(b64url_decode(s))
    sig[3] ^= 1
    from keys._crypto import b64url_encode

    with pytest.raises(JwsSignatureInvalid):
        verify_trust_list(f"{h}.{p}.{b64url_encode(bytes(sig))}", ROOT.public_jwk(), NOW)


def test_list_signed_by_another_root_rejected() -> None:
    impostor = generate_signing_key("ES256")
    with pytest.raises(UnknownKey):
        verify_trust_list(sign_trust_list(impostor, _entries(), NOW, 3), ROOT.public_jwk(), NOW)


def test_expired_list_rejected() -> None:
    token = sign_trust_list(ROOT, _entries(), NOW, 3, ttl=timedelta(hours=1))
    verify_trust_list(token, ROOT.public_jwk(), NOW + timedelta(minutes=59))
    with pytest.raises(TrustListExpired):
        verify_trust_list(token, ROOT.public_jwk(), NOW + timedelta(hours=1))


def test_older_version_rejected() -> None:
    with pytest.raises(TrustListRollback):
        verify_trust_list(sign_trust_list(ROOT, _entries(), NOW, 3), ROOT.public_jwk(), NOW, min_version=4)


def test_unknown_kid_rejected() -> None:
    tl = verify_trust_list(sign_trust_list(ROOT, _entries(), NOW, 3), ROOT.public_jwk(), NOW)
    stranger = generate_signing_key()
    with pytest.raises(UnknownKey):
        tl.verify(sign_jws(stranger, {"iss": "ubnd-hcm"}), signed_at=NOW)


def test_duplicate_kid_rejected() -> None:
    payload = _payload()
    payload["agencies"][1]["keys"].append(payload["agencies"][0]["keys"][0])
    with pytest.raises(TrustListInvalid, match="twice"):
        verify_trust_list(_signed(payload), ROOT.public_jwk(), NOW)


def test_kid_not_matching_thumbprint_rejected() -> None:
    payload = _payload()
    payload["agencies"][0]["keys"][0]["jwk"]["kid"] = UBND.kid  # agencies are sorted: [0] is ca-hcm
    with pytest.raises(TrustListInvalid):
        verify_trust_list(_signed(payload), ROOT.public_jwk(), NOW)


@pytest.mark.parametrize("where", ["jwk", "entry"])
def test_jwk_claiming_another_agency_rejected(where: str) -> None:
    payload = _payload()
    entry = payload["agencies"][0]["keys"][0]
    (entry["jwk"] if where == "jwk" else entry)["agency"] = "ubnd-hcm"  # listed under ca-hcm
    with pytest.raises(TrustListInvalid, match="claims"):
        verify_trust_list(_signed(payload), ROOT.public_jwk(), NOW)


def test_root_key_listed_as_agency_key_rejected() -> None:
    payload = _payload()
    payload["agencies"][0]["keys"].append({**payload["agencies"][0]["keys"][0], "jwk": ROOT.public_jwk()})
    with pytest.raises(TrustListInvalid):
        verify_trust_list(_signed(payload), ROOT.public_jwk(), NOW)


def test_other_root_signed_token_is_not_a_trust_list() -> None:
    with pytest.raises(TrustListInvalid):
        verify_trust_list(sign_jws(ROOT, _payload()), ROOT.public_jwk(), NOW)


def test_role_and_compromise_checked_through_the_list() -> None:
    entries = _entries()
    profile, keys = entries[0]
    entries[0] = (profile, [KeyRecord(**{**keys[0].__dict__, "status": "compromised", "compromised_at": NOW})])
    tl = verify_trust_list(sign_trust_list(ROOT, entries, NOW, 3), ROOT.public_jwk(), NOW)
    doc = sign_jws(UBND, {"iss": "ubnd-hcm"})
    with pytest.raises(KeyCompromised):
        tl.verify(doc, signed_at=NOW - timedelta(days=2))
    tl.verify(doc, signed_at=NOW - timedelta(days=2), anchored_at=NOW - timedelta(days=1), role="documents")
    with pytest.raises(KeyRoleNotAllowed):
        tl.verify(sign_jws(POLICE, {"iss": "ca-hcm"}), signed_at=NOW, role="documents")


def test_all_rejections_are_signature_errors() -> None:
    assert issubclass(TrustListInvalid, SignatureError)
