"""JWS for every package: ``sign_jws``, ``verify_jws``, and the signature checks beneath them.

Rules, each a defence against a known attack on JOSE libraries:
- the verification key decides the algorithm; the header's ``alg`` must merely agree with it and be allowed
  (``none`` and every HMAC algorithm are refused outright: no algorithm confusion);
- keys are never taken from the token: ``jku``, ``x5u``, ``jwk``, ``x5c`` (and ``x5t``-style pointers) are refused,
  so nothing is fetched and no key embedded by the signer is trusted;
- ``crit`` is refused, since we understand no extension;
- with a resolver, the key is looked up by issuer *and* ``kid``, so a kid naming another agency's key finds nothing.

This is the one JWS implementation in xacthuc, written by hand on ``cryptography`` (``keys._crypto``), not on PyJWT:
routing compact JWS through ``jwt.api_jws.PyJWS`` cost the digital-ID verification benchmark about 28 % and took the
JWS verification overhead over its 1.5x target (docs/keys.md, "Why not PyJWT"). PyJWT stays as an independent check
in the tests: it verifies what we sign, and we verify what it signs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keys import _crypto
from keys.encoding import CryptoInputError, b64url_decode, b64url_encode, json_bytes, json_loads
from keys.errors import (
    InvalidInput,
    JwsAlgorithmRejected,
    JwsHeaderRejected,
    JwsMalformed,
    JwsSignatureInvalid,
    UnknownKey,
)
from keys.jwk import checked_public_jwk
from keys.limits import JWS_CHARS
from keys.protocols import KeyResolver, Signer, TrustedKey

__all__ = [
    "ALLOWED_ALGS",
    "DEFAULT_ALLOWED_ALGS",
    "FORBIDDEN_HEADERS",
    "VerifiedJWS",
    "decode_unverified",
    "sign_jws",
    "verify_jws",
    "verify_signature",
]

ALLOWED_ALGS: frozenset[str] = frozenset(_crypto.SIGNATURE_ALGS)
DEFAULT_ALLOWED_ALGS: tuple[str, ...] = _crypto.SIGNATURE_ALGS
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"})
_RESERVED = FORBIDDEN_HEADERS | {"alg", "kid"}
_MAX_TOKEN = JWS_CHARS


@dataclass(frozen=True)
class VerifiedJWS:
    """A token whose signature checked out: its header, raw payload, and the key that verified it."""

    header: dict[str, Any]
    payload: bytes
    jwk: dict[str, Any]
    trusted_key: TrustedKey | None = None

    def claims(self) -> dict[str, Any]:
        """The payload parsed as a JSON object."""
        try:
            value = json_loads(self.payload)
        except ValueError:
            raise JwsMalformed("the payload is not JSON") from None
        if not isinstance(value, dict):
            raise JwsMalformed("the payload is not a JSON object")
        return value


# --- signing --------------------------------------------------------------------------------------------------------


def sign_jws(
    signer: Signer,
    payload: bytes | Mapping[str, Any],
    header_extra: Mapping[str, Any] | None = None,
    *,
    kid: bool = True,
    kid_last: bool = False,
) -> str:
    """A compact JWS of ``payload`` (bytes as is, a mapping as compact JSON); ``alg`` and ``kid`` come from ``signer``.

    The header is ``{"alg", "kid", **header_extra}``; ``kid_last`` puts ``kid`` after the extra members (the SD-JWT
    formats, whose bytes are fixed) and ``kid=False`` leaves it out (a KB-JWT: the verifier takes the key from cnf).
    """
    extra = dict(header_extra) if header_extra else {}
    bad = _RESERVED & extra.keys() if extra else None
    if bad:
        raise InvalidInput(f"header members set by the signer or refused by verifiers: {', '.join(sorted(bad))}")
    body = payload if isinstance(payload, bytes) else json_bytes(dict(payload))
    placement = 0 if not kid else (2 if kid_last else 1)
    signing_input = _encoded_header(signer.alg, signer.kid, extra, placement) + "." + b64url_encode(body)
    signature = signer.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


_HEADERS: dict[tuple[str, str, str, int], str] = {}


def _encoded_header(alg: str, kid: str, extra: dict[str, Any], placement: int) -> str:
    """The base64url header; memoised since a signer sends the same header again and again."""
    extra_json = json_bytes(extra).decode("utf-8") if extra else ""
    key = (alg, kid, extra_json, placement)
    encoded = _HEADERS.get(key)
    if encoded is None:
        if placement == 0:
            header = {"alg": alg, **extra}
        elif placement == 1:
            header = {"alg": alg, "kid": kid, **extra}
        else:
            header = {"alg": alg, **extra, "kid": kid}
        if len(_HEADERS) >= 1024:
            _HEADERS.clear()
        encoded = _HEADERS[key] = b64url_encode(json_bytes(header))
    return encoded


# --- the signature checks -------------------------------------------------------------------------------------------


def verify_signature(alg: str, jwk: Mapping[str, Any], message: bytes, signature: bytes) -> bool:
    """Check a signature over raw bytes: a receipt's signed message, or a JWS signing input (an SD-JWT's issuer JWT,
    a KB-JWT, a status list) that the caller has parsed.

    ``alg`` comes from the trust list or the caller, never from the signed data alone; it must be allowed and be the
    one algorithm the key's type allows. Anything else (``none``, ``HS256``, a key of another type, a malformed or
    private JWK) is ``False``.
    """
    if alg not in ALLOWED_ALGS:
        return False
    try:
        key = _crypto.public_key_for(alg, jwk)
    except (CryptoInputError, TypeError, AttributeError):  # AttributeError: not a mapping at all
        return False
    return _crypto.verify(alg, key, message, signature)


# --- compact JWS with the header rules ------------------------------------------------------------------------------


def decode_unverified(token: str) -> tuple[dict[str, Any], bytes]:
    """Header and payload of a token, NOT verified: only for finding which issuer and key to verify with."""
    header, payload, _sig, _input = _split(token)
    return header, payload


def _split(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise JwsMalformed("not a compact JWS")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsMalformed("a compact JWS has three parts")
    try:
        header = _decode_header(parts[0])
        payload, signature = b64url_decode(parts[1]), b64url_decode(parts[2])
    except ValueError:
        raise JwsMalformed("not a compact JWS") from None
    return header, payload, signature, (parts[0] + "." + parts[1]).encode("ascii")


_DECODED_HEADERS: dict[str, dict[str, Any]] = {}


def _decode_header(segment: str) -> dict[str, Any]:
    """The parsed header (a fresh copy); memoised because one issuer's tokens share a handful of headers."""
    header = _DECODED_HEADERS.get(segment)
    if header is None:
        header = json_loads(b64url_decode(segment))
        if not isinstance(header, dict):
            raise JwsMalformed("the JWS header is not a JSON object")
        if len(segment) <= 1024:
            if len(_DECODED_HEADERS) >= 1024:
                _DECODED_HEADERS.clear()
            _DECODED_HEADERS[segment] = header
    return dict(header)


def _check_header(header: dict[str, Any], allowed_algs: Sequence[str]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg.upper().startswith("HS"):
        raise JwsAlgorithmRejected(f"algorithm {alg!r} is never accepted")
    if alg not in allowed_algs or alg not in ALLOWED_ALGS:
        raise JwsAlgorithmRejected(f"algorithm {alg!r} is not allowed here")
    refused = FORBIDDEN_HEADERS & header.keys()
    if refused:
        raise JwsHeaderRejected(f"refused header members: {', '.join(sorted(refused))}")
    return alg


def verify_jws(
    token: str,
    key: KeyResolver | TrustedKey | Mapping[str, Any],
    allowed_algs: Sequence[str] = DEFAULT_ALLOWED_ALGS,
    *,
    issuer_id: str | None = None,
) -> VerifiedJWS:
    """Verify a compact JWS against one public JWK, a ``TrustedKey``, or a ``KeyResolver`` (then ``issuer_id``,
    or the payload's ``iss``, names whose keys to search for the header's ``kid``).

    Only the signature is checked here; the caller checks the key's validity at the signing time
    (``KeyRing.verify_key`` or ``keys.validity.check_valid_at``) and its role.
    """
    header, payload, signature, signing_input = _split(token)
    header_alg = _check_header(header, allowed_algs)
    kid = header.get("kid")
    trusted: TrustedKey | None = None
    if isinstance(key, TrustedKey):
        trusted, jwk_in = key, key.jwk
    elif isinstance(key, Mapping):
        jwk_in = dict(key)
    else:
        if not isinstance(kid, str):
            raise UnknownKey("the token names no kid")
        issuer = issuer_id if issuer_id is not None else _issuer_of(payload)
        trusted = key.resolve(issuer, kid)
        if trusted is None:
            raise UnknownKey("the issuer has no such key", issuer_id=issuer, kid=kid)
        jwk_in = trusted.jwk
    try:
        jwk = checked_public_jwk(jwk_in)
    except InvalidInput:
        raise UnknownKey("the verification key is not a usable public key") from None
    if kid is not None and kid != jwk["kid"]:
        raise UnknownKey("the token's kid names a different key", kid=str(kid))
    if trusted is not None and trusted.alg != jwk["alg"]:
        raise JwsAlgorithmRejected("the trusted key's algorithm does not match its JWK")
    if header_alg != jwk["alg"]:
        raise JwsAlgorithmRejected(f"this key verifies {jwk['alg']} only, the token says {header_alg}")
    if not _crypto.verify(header_alg, _crypto.public_key_from_jwk(jwk), signing_input, signature):
        raise JwsSignatureInvalid()
    return VerifiedJWS(header=header, payload=payload, jwk=jwk, trusted_key=trusted)


def _issuer_of(payload: bytes) -> str:
    try:
        iss = json_loads(payload).get("iss")
    except (ValueError, AttributeError):
        iss = None
    if not isinstance(iss, str):
        raise UnknownKey("no issuer given and the payload has no iss")
    return iss
