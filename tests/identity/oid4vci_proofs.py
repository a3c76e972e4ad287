"""Holder proof JWTs built by hand for the OpenID4VCI tests (``keys.jws.sign_jws`` refuses a ``jwk`` header on
purpose: it signs issuer tokens, whose verifiers never take a key from the token)."""

from __future__ import annotations

import json
from typing import Any

from keys.encoding import b64url_encode
from keys.holder_key import P256Key

_ABSENT = object()


def proof_jwt(
    key: P256Key,
    *,
    aud: Any,
    nonce: Any,
    iat: Any,
    typ: Any = "openid4vci-proof+jwt",
    alg: Any = "ES256",
    jwk: Any = _ABSENT,
    header: dict[str, Any] | None = None,
) -> str:
    """A proof signed by ``key``; ``jwk`` defaults to its public key, ``None`` leaves it out."""
    h: dict[str, Any] = {"typ": typ, "alg": alg}
    public = key.public_jwk() if jwk is _ABSENT else jwk
    if public is not None:
        h["jwk"] = public
    h.update(header or {})
    payload: dict[str, Any] = {"aud": aud, "iat": iat}
    if nonce is not None:
        payload["nonce"] = nonce
    signing_input = b64url_encode(json.dumps(h).encode()) + "." + b64url_encode(json.dumps(payload).encode())
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode("ascii")))
