"""The holder's proof of possession (OpenID4VCI 1.0 appendix F.1, proof type ``jwt``): the key it carries becomes
the credential's ``cnf``.

Accepted only as: header ``typ`` ``openid4vci-proof+jwt``, ``alg`` ES256, the public P-256 key in ``jwk`` and no
other way to name a key (``kid``, ``x5c``, ``jku``, ``x5u``, ``trust_chain``, ``key_attestation``); payload ``aud``
the credential issuer, ``iat`` within ``PROOF_WINDOW`` of now, ``nonce`` a c_nonce of ours. The nonce is checked,
and used up, by the caller (:func:`identity.oid4vci.tokens.consume_nonce`) once everything else holds.
Signatures go through the crypto core (``keys.jws.verify_signature``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.errors import Oid4vciError, SdJwtMalformed
from identity.sdjwt import parse_jws
from keys.errors import InvalidInput
from keys.jwk import jwk_alg, public_jwk_members
from keys.jws import verify_signature
from keys.limits import OID4VCI_PROOF_CHARS
from keys.validity import utc

__all__ = ["PROOF_ALG", "PROOF_TYP", "PROOF_WINDOW", "HolderProof", "check_proof"]

PROOF_TYP = "openid4vci-proof+jwt"
PROOF_ALG = "ES256"
PROOF_WINDOW = timedelta(minutes=5)
_OTHER_KEY_HEADERS = ("kid", "x5c", "jku", "x5u", "x5t", "x5t#S256", "trust_chain", "key_attestation", "crit")
_MAX_PROOF = OID4VCI_PROOF_CHARS


@dataclass(frozen=True)
class HolderProof:
    """A proof whose signature checked out: the holder's public key and the nonce it names."""

    jwk: dict[str, str]
    nonce: str


def _bad(description: str) -> Oid4vciError:
    return Oid4vciError("invalid_proof", description)


def check_proof(proof: Any, *, audience: str, now: datetime) -> HolderProof:
    """Check a proof JWT against the credential issuer ``audience``; ``invalid_proof`` says what is wrong, and
    ``invalid_nonce`` when it names no nonce."""
    if not isinstance(proof, str) or len(proof) > _MAX_PROOF:
        raise _bad("the proof is not a compact JWT")
    try:
        jws = parse_jws(proof)
    except SdJwtMalformed:
        raise _bad("the proof is not a compact JWT") from None
    header, payload = jws.header, jws.payload
    if header.get("typ") != PROOF_TYP:
        raise _bad(f"the proof's typ must be {PROOF_TYP}")
    if header.get("alg") != PROOF_ALG:
        raise _bad(f"the proof's alg must be {PROOF_ALG}")
    named = [h for h in _OTHER_KEY_HEADERS if h in header]
    if named:
        raise _bad(f"the proof names its key only by jwk, not by {', '.join(named)}")
    if "jwk" not in header:
        raise _bad("the proof's header has no jwk")
    try:
        jwk = public_jwk_members(header["jwk"])
    except InvalidInput:
        raise _bad("the proof's jwk is not a public P-256 key") from None
    if jwk_alg(jwk) != PROOF_ALG:
        raise _bad("the proof's jwk is not a public P-256 key")
    if not verify_signature(PROOF_ALG, jwk, jws.signing_input, jws.signature):
        raise _bad("the proof's signature does not verify with its jwk")
    aud = payload.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise _bad(f"the proof's aud must be the credential issuer {audience}")
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _bad("the proof has no iat")
    if abs(utc(now).timestamp() - iat) > PROOF_WINDOW.total_seconds():
        raise _bad("the proof's iat is not within 5 minutes of the issuer's clock")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise Oid4vciError("invalid_nonce", "the proof has no c_nonce: get one from the nonce endpoint")
    return HolderProof(jwk=jwk, nonce=nonce)
