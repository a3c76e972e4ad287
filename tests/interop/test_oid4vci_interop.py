"""OpenID4VCI both ways with code we did not write: the npm ``@openid4vc/openid4vci`` client (0.4.6) receives a
credential from our issuer over the pre-authorized code flow, and that credential verifies with the reference
Python ``sd-jwt`` library and with ``@sd-jwt/sd-jwt-vc`` (0.19) in Node, each finding the issuer's key on its own."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jwcrypto.jwk import JWK  # type: ignore[import-untyped]
from sd_jwt.holder import SDJWTHolder
from sd_jwt.verifier import SDJWTVerifier

from identity.sdjwt import parse_jws, split_compact
from identity.service import VCT
from keys.jwk import public_jwk_members
from tests.interop.conftest import IDENTITY_AGENCY, new_offer, node
from tests.web.conftest import TIMEOUT, Server

PERSONAL = {"full_name", "birth_date", "sex", "personal_id", "age_over_18", "place_of_residence"}


@pytest.fixture(scope="module")
def received(server: Server) -> dict[str, Any]:
    """A credential the npm OpenID4VCI client got from our issuer (its output, with the holder's private key)."""
    offer = new_offer(server)
    return node("oid4vci_receive.mjs", offer["offer_uri"], offer["tx_code"])


def test_the_openid4vci_library_receives_a_credential_bound_to_its_key(
    server: Server, received: dict[str, Any]
) -> None:
    assert received["configuration_id"] == "citizen_id"
    payload = parse_jws(split_compact(received["credential"]).issuer_jwt).payload
    assert payload["vct"] == VCT
    assert payload["iss"] == f"{server.base}/agencies/{IDENTITY_AGENCY}"
    assert public_jwk_members(payload["cnf"]["jwk"]) == public_jwk_members(
        {k: v for k, v in received["holder_private_jwk"].items() if k != "d"}
    )


def test_the_reference_python_sd_jwt_verifies_the_credential(server: Server, received: dict[str, Any]) -> None:
    r = httpx.get(f"{server.base}/.well-known/jwt-vc-issuer/agencies/{IDENTITY_AGENCY}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    keys = {k["kid"]: JWK.from_json(json.dumps(k)) for k in r.json()["jwks"]["keys"]}
    holder_key = JWK.from_json(json.dumps(received["holder_private_jwk"]))
    holder = SDJWTHolder(received["credential"])
    holder.create_presentation({"full_name": True, "age_over_18": True}, "n-ref", "https://bank.example", holder_key)

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        assert iss == f"{server.base}/agencies/{IDENTITY_AGENCY}"
        return keys[header["kid"]]

    verifier = SDJWTVerifier(
        holder.sd_jwt_presentation, issuer_key, expected_aud="https://bank.example", expected_nonce="n-ref"
    )
    claims = verifier.get_verified_payload()
    assert claims["full_name"] == "Nguyễn Thị Minh Khai" and claims["age_over_18"] is True
    assert PERSONAL & set(claims) == {"full_name", "age_over_18"}


def test_sd_jwt_vc_in_node_verifies_the_credential_with_the_issuer_metadata(
    server: Server, received: dict[str, Any]
) -> None:
    result = node("sdjwt_vc_verify.mjs", received["credential"])
    assert result["issuer_metadata_url"] == f"{server.base}/.well-known/jwt-vc-issuer/agencies/{IDENTITY_AGENCY}"
    assert result["header"]["typ"] == "dc+sd-jwt"
    assert result["payload"]["vct"] == VCT
    assert result["payload"]["full_name"] == "Nguyễn Thị Minh Khai"
    assert result["payload"]["birth_date"] == "2003-05-17"


def test_a_wrong_transaction_code_fails_in_the_library_too(server: Server) -> None:
    offer = new_offer(server)
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    with pytest.raises(AssertionError) as done:
        node("oid4vci_receive.mjs", offer["offer_uri"], wrong)
    assert "invalid_grant" in str(done.value)


def test_sd_jwt_vc_in_node_refuses_the_credential_with_another_signature(received: dict[str, Any]) -> None:
    issuer_jwt, rest = received["credential"].split("~", 1)
    head, body, signature = issuer_jwt.split(".")
    forged = f"{head}.{body}.{signature[::-1]}~{rest}"  # same length, same alphabet, not the issuer's signature
    with pytest.raises(AssertionError, match=r"sdjwt_vc_verify\.mjs failed"):
        node("sdjwt_vc_verify.mjs", forged)
