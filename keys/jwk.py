"""JWK helpers: the RFC 7638 thumbprint that every ``kid`` in xacthuc is, and public-JWK hygiene."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keys._crypto import alg_for_jwk, public_key_from_jwk
from keys.encoding import CryptoInputError, sha256_b64url
from keys.errors import InvalidInput

__all__ = ["checked_public_jwk", "jwk_alg", "jwk_thumbprint", "public_jwk_members"]

# RFC 7638 section 3.2: the required members of each key type, nothing else, in lexicographic order.
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
_PUBLIC_MEMBERS = {"kty", "crv", "x", "y", "kid", "alg", "use"}


def jwk_alg(jwk: Mapping[str, Any]) -> str | None:
    """The one JWS algorithm a public JWK may be used with (the key decides, never a token header), or ``None``."""
    try:
        return alg_for_jwk(jwk)
    except CryptoInputError:
        return None


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 thumbprint of ``jwk``: base64url(SHA-256(canonical JSON of its required members))."""
    members = _REQUIRED.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(m), str) for m in members):
        raise InvalidInput("the JWK lacks the members its thumbprint needs")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return sha256_b64url(canonical.encode("utf-8"))


def public_jwk_members(jwk: Any) -> dict[str, str]:
    """Only the required members of a usable P-256 or Ed25519 public JWK (a holder key as ``cnf`` carries it).

    Raises ``InvalidInput`` (a ``ValueError``) for anything else: a private member, another key type, a point off the
    curve. Unlike :func:`checked_public_jwk` a ``kid`` is not looked at: it is dropped.
    """
    if not isinstance(jwk, Mapping) or "d" in jwk:
        raise InvalidInput("not a public JWK")
    alg = jwk_alg(jwk)
    if alg is None:
        raise InvalidInput("unsupported JWK (only EC P-256 and OKP Ed25519)")
    out = {m: jwk.get(m) for m in _REQUIRED[str(jwk["kty"])]}
    if not all(isinstance(v, str) for v in out.values()):
        raise InvalidInput("incomplete JWK")
    try:
        public_key_from_jwk(out)
    except CryptoInputError as exc:
        raise InvalidInput(f"unusable JWK: {exc}") from None
    return {k: str(v) for k, v in out.items()}


def checked_public_jwk(jwk: Any) -> dict[str, Any]:
    """A copy of ``jwk`` if it is a usable public signature key whose ``kid`` (if any) is its thumbprint.

    Raises ``InvalidInput`` otherwise: a private member, an unknown curve, a point off the curve, a kid that
    names some other key.
    """
    if not isinstance(jwk, dict):
        raise InvalidInput("a JWK is a JSON object")
    try:
        cache_key = tuple(sorted(jwk.items()))
        hit = _CHECKED.get(cache_key)
    except TypeError:  # unhashable member values: not cacheable, and checked below
        cache_key, hit = None, None
    if hit is not None:
        return dict(hit)
    out = _check(jwk)
    if cache_key is not None:
        if len(_CHECKED) >= 4096:
            _CHECKED.clear()
        _CHECKED[cache_key] = out
    return dict(out)


_CHECKED: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}  # verification hot path: parse each JWK once


def _check(jwk: dict[str, Any]) -> dict[str, Any]:
    if "d" in jwk:
        raise InvalidInput("a private JWK is never accepted as a public key")
    alg = jwk_alg(jwk)
    if alg is None:
        raise InvalidInput("unusable JWK: unsupported JWK (only EC P-256 and OKP Ed25519)")
    try:
        public_key_from_jwk(jwk)
    except CryptoInputError as exc:
        raise InvalidInput(f"unusable JWK: {exc}") from None
    if "alg" in jwk and jwk["alg"] != alg:
        raise InvalidInput("the JWK's alg does not match its key type")
    thumb = jwk_thumbprint(jwk)
    if "kid" in jwk and jwk["kid"] != thumb:
        raise InvalidInput("the JWK's kid is not its RFC 7638 thumbprint")
    out = {k: v for k, v in jwk.items() if k in _PUBLIC_MEMBERS}
    out["kid"], out["alg"] = thumb, alg
    return out
