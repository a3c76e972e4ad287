"""A JWS that carries its signer's public key in the ``jwk`` header: the OpenID4VCI proof of possession a wallet
sends with a credential request (``typ`` ``openid4vci-proof+jwt``; that key becomes the credential's ``cnf``).

``keys.jws.sign_jws`` refuses ``jwk`` among the header members on purpose (verifiers never take a key from the token
they verify); the issuer checking a proof binds the key to what it issues instead (identity/oid4vci/proof.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keys.encoding import b64url_encode, json_bytes
from keys.errors import JwsHeaderRejected
from keys.jwk import public_jwk_members
from keys.protocols import Signer

__all__ = ["sign_with_jwk_header"]


def sign_with_jwk_header(signer: Signer, header_extra: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """A compact JWS with the header ``{"alg", **header_extra, "jwk": <the signer's public key>}`` and no ``kid``."""
    if {"alg", "kid", "jwk", "x5c"} & header_extra.keys():
        raise JwsHeaderRejected("alg, kid, jwk and x5c are set by the signer")
    header = {"alg": signer.alg, **header_extra, "jwk": public_jwk_members(signer.public_jwk())}
    signing_input = b64url_encode(json_bytes(header)) + "." + b64url_encode(json_bytes(dict(payload)))
    return signing_input + "." + b64url_encode(signer.sign(signing_input.encode("ascii")))
