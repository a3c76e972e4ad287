"""The holder side: pick the disclosures to show and bind the presentation to the holder key with a KB-JWT."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from identity.errors import ClaimNotAvailable, SdJwtMalformed
from identity.sdjwt import KB_JWT_TYP, Disclosure, SdJwt, parse_disclosure, parse_jws, sign_jws, split_compact
from keys.encoding import sha256_b64url
from keys.jwk import public_jwk_members
from keys.protocols import Signer


def available_claims(credential: str) -> dict[str, Any]:
    """The claims the holder can disclose, by name (read from the disclosures; no verification)."""
    sd = split_compact(credential)
    return {d.name: d.value for d in map(parse_disclosure, sd.disclosures) if d.name is not None}


def sd_hash(presented: str) -> str:
    """``sd_hash`` of a KB-JWT: SHA-256 over the ASCII of the presented SD-JWT, up to and including the last ``~``."""
    return sha256_b64url(presented.encode("ascii"))


def select(credential: str, claims: Iterable[str]) -> SdJwt:
    """The SD-JWT with only the named top-level claims' disclosures (in issuance order) and no KB-JWT."""
    sd = split_compact(credential)
    wanted = list(dict.fromkeys(claims))
    by_name: dict[str, Disclosure] = {}
    for d in map(parse_disclosure, sd.disclosures):
        if d.name is not None:
            by_name.setdefault(d.name, d)
    missing = [c for c in wanted if c not in by_name]
    if missing:
        raise ClaimNotAvailable(missing[0])
    keep = {by_name[c].encoded for c in wanted}
    return SdJwt(sd.issuer_jwt, tuple(d for d in sd.disclosures if d in keep), None)


def present(
    credential: str,
    claims: Iterable[str],
    holder: Signer,
    *,
    audience: str,
    now: datetime,
    nonce: str | None = None,
) -> str:
    """A compact SD-JWT+KB presenting only ``claims``, with a KB-JWT (``aud``, ``iat``, optional ``nonce``)."""
    chosen = select(credential, claims)
    cnf = parse_jws(chosen.issuer_jwt).payload.get("cnf")
    try:
        bound = isinstance(cnf, dict) and public_jwk_members(cnf["jwk"]) == public_jwk_members(holder.public_jwk())
    except (KeyError, ValueError):
        bound = False
    if not bound:
        raise SdJwtMalformed("the credential is not bound to this holder key")
    payload: dict[str, Any] = {"iat": int(now.timestamp()), "aud": audience}
    if nonce is not None:
        payload["nonce"] = nonce
    payload["sd_hash"] = sd_hash(chosen.presented)
    # The verifier takes the holder key from cnf, so a kid in the KB-JWT would be dead weight in the QR code.
    return chosen.presented + sign_jws(holder, {"typ": KB_JWT_TYP}, payload, with_kid=False)
