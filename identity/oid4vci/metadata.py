"""The metadata documents of the issuer: OpenID4VCI credential issuer metadata, RFC 8414 authorization server
metadata (the credential issuer is its own authorization server), and SD-JWT VC issuer metadata per agency."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from identity.oid4vci.offers import CREDENTIAL_CONFIGURATION_ID, PRE_AUTHORIZED_GRANT
from identity.oid4vci.proof import PROOF_ALG
from identity.service import VCT, credential_issuer

__all__ = ["CLAIM_NAMES", "authorization_server_metadata", "credential_issuer_metadata", "jwt_vc_issuer_metadata"]

#: The credential's selectively disclosable claims with their names in Vietnamese and English.
CLAIM_NAMES: dict[str, tuple[str, str]] = {
    "full_name": ("Họ và tên", "Full name"),
    "family_name": ("Họ", "Family name"),
    "given_name": ("Tên", "Given name"),
    "birth_date": ("Ngày sinh", "Date of birth"),
    "sex": ("Giới tính", "Sex"),
    "nationality": ("Quốc tịch", "Nationality"),
    "place_of_origin": ("Quê quán", "Place of origin"),
    "place_of_residence": ("Nơi thường trú", "Place of residence"),
    "personal_id": ("Số định danh cá nhân", "Personal identification number"),
    "age_over_18": ("Đủ 18 tuổi", "Aged 18 or over"),
}
_ISSUER_DISPLAY = ("Xác thực – Thành phố Hồ Chí Minh", "xacthuc – Ho Chi Minh City")
_CREDENTIAL_DISPLAY = ("Căn cước số", "Digital citizen ID")


def _display(vi: str, en: str) -> list[dict[str, str]]:
    return [{"name": vi, "locale": "vi"}, {"name": en, "locale": "en"}]


def credential_issuer_metadata(public_url: str) -> dict[str, Any]:
    """``/.well-known/openid-credential-issuer``: one configuration, ``citizen_id`` (``dc+sd-jwt``, ES256)."""
    pu = public_url.rstrip("/")
    return {
        "credential_issuer": pu,
        "credential_endpoint": pu + "/oid4vci/credential",
        "nonce_endpoint": pu + "/oid4vci/nonce",
        "display": _display(*_ISSUER_DISPLAY),
        "credential_configurations_supported": {
            CREDENTIAL_CONFIGURATION_ID: {
                "format": "dc+sd-jwt",
                "vct": VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": [PROOF_ALG]}},
                "credential_metadata": {
                    "display": _display(*_CREDENTIAL_DISPLAY),
                    "claims": [{"path": [name], "display": _display(vi, en)} for name, (vi, en) in CLAIM_NAMES.items()],
                },
            }
        },
    }


def authorization_server_metadata(public_url: str) -> dict[str, Any]:
    """``/.well-known/oauth-authorization-server`` (RFC 8414): only the pre-authorized code grant, anonymous."""
    pu = public_url.rstrip("/")
    return {
        "issuer": pu,
        "token_endpoint": pu + "/oid4vci/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": True,
        "token_endpoint_auth_methods_supported": ["none"],
        "response_types_supported": [],
    }


def jwt_vc_issuer_metadata(public_url: str, agency_id: str, jwks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``/.well-known/jwt-vc-issuer/agencies/{id}`` (SD-JWT VC): the agency's issuer identifier and public keys."""
    return {"issuer": credential_issuer(public_url, agency_id), "jwks": {"keys": [dict(k) for k in jwks]}}
