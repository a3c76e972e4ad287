"""The signed request object a wallet fetches from ``request_uri`` (OpenID4VP 1.0, section 5, with a DCQL query).

Header ``{"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": [certificate]}``: the ``x509_hash:`` client id is the
SHA-256 of that certificate, so the wallet verifies with the ``x5c`` leaf and checks its hash
(``keys.x509.verify_x509_hash_jws``). ``keys.jws.sign_jws`` refuses ``x5c`` (no verifier of ours trusts a key a token
brings), so the JWS is put together here from the same pieces.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from identity.service import VCT
from keys.encoding import b64url_encode, json_bytes
from keys.x509 import VerifierRequestKey
from ledger.chain.outbox import as_utc

from .models import PresentationRequest
from .requests import request_links

__all__ = [
    "CREDENTIAL_QUERY_ID",
    "MEDIA_TYPE",
    "SELF_ISSUED_AUD",
    "TYP",
    "dcql_query",
    "request_claims",
    "sign_request_object",
]

MEDIA_TYPE = "application/oauth-authz-req+jwt"
TYP = "oauth-authz-req+jwt"
SELF_ISSUED_AUD = "https://self-issued.me/v2"
CREDENTIAL_QUERY_ID = "citizen_id"
FORMAT = "dc+sd-jwt"


def dcql_query(claims: list[str]) -> dict[str, Any]:
    """One credential query (id ``citizen_id``) for our SD-JWT VC, naming each claim by its top-level path."""
    return {
        "credentials": [
            {
                "id": CREDENTIAL_QUERY_ID,
                "format": FORMAT,
                "meta": {"vct_values": [VCT]},
                "claims": [{"path": [name]} for name in claims],
            }
        ]
    }


def request_claims(row: PresentationRequest, public_url: str, now: datetime) -> dict[str, Any]:
    """The request object's payload for ``row``."""
    links = request_links(public_url, row.handle, row.client_id)
    payload: dict[str, Any] = {
        "iss": row.client_id,
        "aud": SELF_ISSUED_AUD,
        "client_id": row.client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": links.response_uri,
        "nonce": row.nonce,
        "state": row.handle,
        "iat": int(now.timestamp()),
        "exp": int(as_utc(row.expires_at).timestamp()),
        "dcql_query": dcql_query(list(row.claims)),
        "client_metadata": {
            "client_name": f"xacthuc ({urlsplit(public_url).hostname or public_url})",
            "vp_formats_supported": {FORMAT: {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
        },
    }
    if row.purpose:
        payload["purpose"] = row.purpose
    return payload


def sign_request_object(key: VerifierRequestKey, payload: dict[str, Any]) -> str:
    """The compact JWS, signed by the verifier key, its certificate in ``x5c`` (standard base64, RFC 7515)."""
    header = {"alg": key.signer.alg, "typ": TYP, "x5c": [base64.b64encode(key.certificate).decode("ascii")]}
    signing_input = b64url_encode(json_bytes(header)) + "." + b64url_encode(json_bytes(payload))
    return signing_input + "." + b64url_encode(key.signer.sign(signing_input.encode("ascii")))
