"""Issue 12, OpenID4VP: a relying party's request, the signed request object, the wallet's direct_post answer and the
verdict, over HTTP (the router on a small app; the wallet in Python, ``identity.presentation.present``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from identity.service import VCT
from keys.encoding import b64url_decode
from keys.errors import JwsSignatureInvalid
from keys.x509 import certificate_host, verify_x509_hash_jws, x509_hash
from tests.verifier.oid4vp_support import PUBLIC, Harness, harness
from verifier.oid4vp.models import PresentationRequest
from verifier.oid4vp.requests import id_hash


@pytest.fixture
def h(engine: Engine) -> Iterator[Harness]:
    yield from harness(engine)


def _checks(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in report["checks"]}


# ------------------------------------------------------------------------------------------------ creating a request
def test_a_request_names_its_links_client_id_and_five_minutes(h: Harness) -> None:
    new = h.create(["age_over_18"], purpose="  Mở tài khoản   ngân hàng ")
    handle = urlsplit(new["request_uri"]).path.rsplit("/", 1)[1]
    assert new["request_uri"] == f"{PUBLIC}/oid4vp/requests/{handle}"
    assert new["client_id"] == "x509_hash:" + x509_hash(h.key.certificate) == h.key.client_id
    query = f"client_id={quote(new['client_id'], safe='')}&request_uri={quote(new['request_uri'], safe='')}"
    assert new["wallet_link"] == "openid4vp://?" + query
    assert new["wallet_url"] == f"{PUBLIC}/wallet#{query}"
    assert new["claims"] == ["age_over_18"] and new["purpose"] == "Mở tài khoản ngân hàng"
    assert new["expires_at"] == (h.clock.now + timedelta(minutes=5)).isoformat()
    state = h.status(new["id"])
    assert (state["state"], state["report"], state["claims"]) == ("pending", None, ["age_over_18"])


@pytest.mark.parametrize(
    "claims",
    [[], "age_over_18", ["age_over_18", "age_over_18"], ["password"], [1], None, ["iss"], ["cnf"]],
)
def test_claims_must_be_a_non_empty_list_of_distinct_citizen_id_claims(h: Harness, claims: object) -> None:
    r = h.client.post("/v1/presentation-requests", json={"claims": claims})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "PRESENTATION_CLAIMS_INVALID"
    assert r.json()["error"]["field"] == "claims"


def test_purpose_is_at_most_200_printable_characters(h: Harness) -> None:
    for purpose in ("x" * 201, "a\x00b", 7):
        r = h.client.post("/v1/presentation-requests", json={"claims": ["full_name"], "purpose": purpose})
        assert r.status_code == 422 and r.json()["error"]["field"] == "purpose", r.text
    r = h.client.post("/v1/presentation-requests", json={"claims": ["full_name"], "extra": 1})
    assert r.status_code == 422


def test_the_secret_id_is_not_derivable_from_the_handle(h: Harness) -> None:
    new = h.create(["age_over_18"])
    handle = urlsplit(new["request_uri"]).path.rsplit("/", 1)[1]
    # Two separate random draws (256 and 128 bits), not one derived from the other ...
    assert len(b64url_decode(new["id"])) == 32 and len(b64url_decode(handle)) == 16
    assert handle not in new["id"] and new["id"] not in json.dumps({k: v for k, v in new.items() if k != "id"})
    # ... so what the QR code carries reads nothing: not the handle, nor anything made from it.
    for guess in (handle, hashlib.sha256(handle.encode()).hexdigest(), id_hash(handle)):
        assert h.client.get(f"/v1/presentation-requests/{guess}").status_code == 404
    # The database holds only the id's hash.
    with Session(h.engine) as s:
        row = s.get(PresentationRequest, id_hash(new["id"]))
        assert row is not None and row.handle == handle and new["id"] not in json.dumps(row.model_dump(mode="json"))


def test_an_unknown_id_is_404(h: Harness) -> None:
    r = h.client.get("/v1/presentation-requests/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "PRESENTATION_REQUEST_NOT_FOUND"
    assert h.client.get("/v1/presentation-requests/nope/qr.svg").status_code == 404


def test_the_qr_code_is_an_svg_of_the_wallet_url(h: Harness) -> None:
    new = h.create(["age_over_18"])
    r = h.client.get(f"/v1/presentation-requests/{new['id']}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<svg") and r.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------------------------------------ the request object
def test_the_signed_request_object_verifies_with_its_x5c_leaf_and_matches_x509_hash(h: Harness) -> None:
    new = h.create(["full_name", "birth_date"], purpose="Thuê nhà")
    r = h.client.get(urlsplit(new["request_uri"]).path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/oauth-authz-req+jwt")
    token = r.text
    verified = verify_x509_hash_jws(token, new["client_id"])
    assert verified.header["typ"] == "oauth-authz-req+jwt" and verified.header["alg"] == "ES256"
    assert verified.certificate == h.key.certificate and certificate_host(verified.certificate) == "verifier.example"
    p = verified.payload
    handle = urlsplit(new["request_uri"]).path.rsplit("/", 1)[1]
    assert p["client_id"] == new["client_id"] and p["aud"] == "https://self-issued.me/v2"
    assert (p["response_type"], p["response_mode"]) == ("vp_token", "direct_post")
    assert p["response_uri"] == f"{PUBLIC}/oid4vp/responses/{handle}" and p["state"] == handle
    assert len(b64url_decode(p["nonce"])) == 16 and p["purpose"] == "Thuê nhà"
    assert p["exp"] - p["iat"] == 300
    assert p["dcql_query"] == {
        "credentials": [
            {
                "id": "citizen_id",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [VCT]},
                "claims": [{"path": ["full_name"]}, {"path": ["birth_date"]}],
            }
        ]
    }
    meta = p["client_metadata"]
    assert meta["client_name"] == "xacthuc (verifier.example)"
    assert meta["vp_formats_supported"]["dc+sd-jwt"] == {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
    # A wallet that pins another client id, or a token whose signature was touched, is refused.
    with pytest.raises(JwsSignatureInvalid):
        verify_x509_hash_jws(token, "x509_hash:" + "A" * 43)
    head, body, sig = token.split(".")
    with pytest.raises(JwsSignatureInvalid):
        verify_x509_hash_jws(f"{head}.{body}.{sig[:-4]}AAAA", new["client_id"])


def test_each_request_has_its_own_nonce(h: Harness) -> None:
    nonces = {h.wallet.fetch(h.client, h.create(["age_over_18"])["wallet_url"])["nonce"] for _ in range(3)}
    assert len(nonces) == 3


# ------------------------------------------------------------------------------------------------ answers
def test_a_good_response_is_valid_with_exactly_the_asked_claims(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    r = h.wallet.answer(h.client, request)
    assert r.status_code == 200 and r.json() == {}, r.text
    state = h.status(new["id"])
    assert state["state"] == "answered"
    report = state["report"]
    assert report["verdict"] == "valid" and report["kind"] == "citizen_id"
    assert report["claims"] == {"age_over_18": True}
    checks = _checks(report)
    assert checks["audience"] == "AUDIENCE_MATCHED" and checks["key_binding"] == "KEY_BINDING_VALID"
    assert report["checks"][-1]["name"] == "requested_claims"
    assert checks["requested_claims"] == "REQUESTED_CLAIMS_OK"


def test_name_and_birth_date_are_shown_as_asked(h: Harness) -> None:
    new = h.create(["full_name", "birth_date"])
    h.wallet.answer(h.client, h.wallet.fetch(h.client, new["wallet_url"]))
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "valid"
    assert report["claims"] == {"full_name": "Nguyễn Thị Minh Khai", "birth_date": "2003-05-17"}


def test_an_extra_claim_is_a_negative_verdict_and_its_value_is_not_kept(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    assert h.wallet.answer(h.client, request, ["age_over_18", "personal_id"]).status_code == 200
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "invalid"
    check = report["checks"][-1]
    assert (check["code"], check["data"]["extra"]) == ("UNREQUESTED_CLAIM", ["personal_id"])
    assert report["claims"] == {"age_over_18": True} and "079303001234" not in json.dumps(report)


def test_a_missing_claim_is_a_negative_verdict(h: Harness) -> None:
    new = h.create(["full_name", "birth_date"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    assert h.wallet.answer(h.client, request, ["full_name"]).status_code == 200
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "invalid"
    check = report["checks"][-1]
    assert (check["code"], check["data"]["missing"]) == ("REQUESTED_CLAIM_MISSING", ["birth_date"])


def test_a_wrong_nonce_is_a_negative_verdict(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    assert h.wallet.answer(h.client, request, nonce="another-nonce").status_code == 200
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "invalid" and _checks(report)["key_binding"] == "KB_NONCE_MISMATCH"


def test_a_wrong_audience_is_a_negative_verdict(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    assert h.wallet.answer(h.client, request, audience="https://bank.example").status_code == 200
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "invalid" and _checks(report)["key_binding"] == "KB_AUDIENCE_MISMATCH"


def test_a_replayed_response_to_an_answered_request_is_refused_and_the_report_stays(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    p = h.wallet.presentation(["age_over_18"], audience=request["client_id"], nonce=request["nonce"])
    data = {"vp_token": json.dumps({"citizen_id": [p]}), "state": request["state"]}
    assert h.wallet.post(h.client, request["response_uri"], data).status_code == 200
    first = h.status(new["id"])
    assert first["report"]["verdict"] == "valid"
    again = h.wallet.post(h.client, request["response_uri"], data)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_request",
        "error_description": "the presentation request was already answered",
    }
    # A worse answer cannot overwrite the stored one either.
    worse = {"vp_token": json.dumps({"citizen_id": ["eyJ.e30.x~"]}), "state": request["state"]}
    assert h.wallet.post(h.client, request["response_uri"], worse).status_code == 400
    assert h.status(new["id"]) == first
    # And the request object is not handed out again.
    assert h.client.get(urlsplit(new["request_uri"]).path).status_code == 404


def test_the_same_presentation_sent_to_a_second_request_is_refused_by_its_nonce(h: Harness) -> None:
    first = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, first["wallet_url"])
    p = h.wallet.presentation(["age_over_18"], audience=request["client_id"], nonce=request["nonce"])
    data = {"vp_token": json.dumps({"citizen_id": [p]}), "state": request["state"]}
    h.wallet.post(h.client, request["response_uri"], data)
    assert h.status(first["id"])["report"]["verdict"] == "valid"
    second = h.create(["age_over_18"])
    other = h.wallet.fetch(h.client, second["wallet_url"])
    data["state"] = other["state"]
    assert h.wallet.post(h.client, other["response_uri"], data).status_code == 200
    report = h.status(second["id"])["report"]
    assert report["verdict"] == "invalid" and _checks(report)["key_binding"] == "KB_NONCE_MISMATCH"


def test_an_expired_request_is_refused(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    h.clock.now += timedelta(minutes=5)
    assert h.status(new["id"])["state"] == "expired"
    r = h.wallet.answer(h.client, request)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "error_description": "the presentation request has expired"}
    assert h.client.get(urlsplit(new["request_uri"]).path).status_code == 404
    state = h.status(new["id"])
    assert (state["state"], state["report"]) == ("expired", None)


def test_access_denied_moves_the_request_to_refused(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    data = {"error": "access_denied", "state": request["state"]}
    assert h.wallet.post(h.client, request["response_uri"], data).status_code == 200
    state = h.status(new["id"])
    assert (state["state"], state["report"]) == ("refused", None)
    assert h.wallet.answer(h.client, request).status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"vp_token": "not json"},
        {"vp_token": json.dumps(["x"])},
        {"vp_token": json.dumps({"other": ["x"]})},
        {"vp_token": json.dumps({"citizen_id": ["a", "b"]})},
        {"vp_token": json.dumps({"citizen_id": []})},
    ],
)
def test_a_malformed_response_is_an_oauth_error_and_leaves_the_request_pending(
    h: Harness, data: dict[str, str]
) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    r = h.wallet.post(h.client, request["response_uri"], {**data, "state": request["state"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert h.status(new["id"])["state"] == "pending"


def test_a_response_with_another_state_is_refused(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    r = h.wallet.answer(h.client, {**request, "state": "someone-else"})
    assert r.status_code == 400 and "state" in r.json()["error_description"]
    assert h.status(new["id"])["state"] == "pending"


def test_a_response_for_an_unknown_handle_is_refused(h: Harness) -> None:
    r = h.client.post("/oid4vp/responses/nope", data={"error": "access_denied"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert h.client.get("/oid4vp/requests/nope").status_code == 404


def test_a_text_that_is_no_presentation_ends_the_request_with_a_negative_verdict(h: Harness) -> None:
    new = h.create(["age_over_18"])
    request = h.wallet.fetch(h.client, new["wallet_url"])
    data = {"vp_token": json.dumps({"citizen_id": "hello"}), "state": request["state"]}
    assert h.wallet.post(h.client, request["response_uri"], data).status_code == 200
    report = h.status(new["id"])["report"]
    assert report["verdict"] == "invalid" and report["checks"][0]["code"] == "PAYLOAD_UNRECOGNIZED"


def test_the_wallet_url_carries_client_id_and_request_uri(h: Harness) -> None:
    new = h.create(["age_over_18"])
    params = parse_qs(urlsplit(new["wallet_url"]).fragment)
    assert params == {"client_id": [new["client_id"]], "request_uri": [new["request_uri"]]}
