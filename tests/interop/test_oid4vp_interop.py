"""OpenID4VP with a wallet we did not write: the npm ``@openid4vc/openid4vp`` library (0.4.6) resolves our signed
request object (``x509_hash`` client identifier, checked by the library against the ``x5c`` leaf), the presentation
is built by ``@sd-jwt/sd-jwt-vc`` with a KB-JWT signed in Node, the library posts it (``direct_post``), and our
verifier reports ``valid`` with exactly the asked claims."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.interop.conftest import new_offer, new_request, node, request_status
from tests.web.conftest import Server


@pytest.fixture(scope="module")
def held(server: Server) -> dict[str, Any]:
    """A credential received by the npm OpenID4VCI client, and the holder key that goes with it."""
    offer = new_offer(server)
    return node("oid4vci_receive.mjs", offer["offer_uri"], offer["tx_code"])


@pytest.mark.parametrize("claims", [["age_over_18"], ["full_name", "birth_date"]], ids=["age_over_18", "name_birth"])
def test_the_openid4vp_library_answers_our_request_and_we_accept_it(
    server: Server, held: dict[str, Any], claims: list[str]
) -> None:
    asked = new_request(server, claims, purpose="mở tài khoản ngân hàng")
    answer = node("oid4vp_wallet.mjs", asked["wallet_link"], held["credential"], _jwk(held))
    assert answer["client_prefix"] == "x509_hash" and answer["client_id"] == asked["client_id"]
    assert answer["version"] == 100  # the library read our request as OpenID4VP 1.0 final
    assert answer["claims"] == claims
    assert answer["status"] == 200
    status = request_status(server, asked["id"])
    assert status["state"] == "answered"
    assert status["report"]["verdict"] == "valid", status["report"]
    assert set(status["report"]["claims"]) == set(claims)


def test_the_library_refuses_a_request_whose_client_id_is_not_the_certificate_hash(
    server: Server, held: dict[str, Any]
) -> None:
    asked = new_request(server, ["age_over_18"])
    forged = asked["wallet_link"].replace("x509_hash%3A", "x509_hash%3AAAAA", 1)
    with pytest.raises(AssertionError, match="client_id"):
        node("oid4vp_wallet.mjs", forged, held["credential"], _jwk(held))
    assert request_status(server, asked["id"])["state"] == "pending"


def _jwk(held: dict[str, Any]) -> str:
    return json.dumps(held["holder_private_jwk"])
