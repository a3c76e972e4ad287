"""Issue 15, Privacy: one end-to-end run of a production city (a real ``xacthuc serve``, no development mode, JSON
logs), then everything it said searched for what it must never say.

The run: documents issued over the API and by a clerk signed in to the portal, anchored, verified, revoked; a
citizen registered with a CCCD number and a Vietnamese name with diacritics, given a credential, the credential
verified; an OpenID4VCI offer redeemed by a wallet after a wrong transaction code, the pre-authorized code replayed;
a presentation request answered; the credential revoked; failed sign-ins; wrong, malformed, unknown and other
agencies' API keys; errors provoked on purpose with the citizen's data in the request.

Searched: the process's standard output and error, ``/metrics``, the body of every error answered during the run,
and every public endpoint (trust list, trust root, JWKS, status lists, ``/.well-known/*``, the offline bundle, the
OpenAPI schema and docs, the pages, the documents' public views and bundles, the credential offer document), each
compact JWS and SD-JWT disclosure in them decoded too. For: the CCCD number, the citizen's name (NFC, NFD, without
diacritics, in capitals), every API key (whole and its secret alone, the wrong ones presented too), the keystore
passphrase, the staff passwords (right and wrong), the transaction code and the pre-authorized code.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from identity.holder.receive import fetch_offer, receive
from identity.holder.respond import fetch_request, respond
from identity.wallet import create_wallet
from tests.plugins.chain import anvil_binary
from tests.security._e2e_run import (
    TIMEOUT,
    ProductionCity,
    cccd_2003_female_hcm,
    expand_tokens,
    find_leaks,
    name_forms,
    production_city,
    sign_in,
)
from xacthuc.devchain import AnvilNode

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.attack]

FULL_NAME = "Đặng Thị Ngọc Hường"
WRONG_PASSWORD = "Wrong-pw-" + secrets.token_hex(6)
META = {
    "title": "Về việc phê duyệt danh sách hộ nghèo năm 2026",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-11-20",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


@dataclass
class Run:
    """What the run produced: the texts to search (where -> text) and the values that must not be in them."""

    logs: dict[str, str]
    metrics: str
    errors: dict[str, str]  # "METHOD url -> status" -> the error body
    public: dict[str, str]  # url -> body, tokens decoded
    hidden: dict[str, str]
    log_only: dict[str, str]  # public elsewhere by design, never in a log line
    credential: str


class Recorder:
    """An HTTP client that keeps the body of every error answer (status 400 and above)."""

    def __init__(self, base: str) -> None:
        self.errors: dict[str, str] = {}
        self.hooks: dict[str, list[Any]] = {"response": [self._keep]}
        self.client = httpx.Client(base_url=base, timeout=TIMEOUT, event_hooks=self.hooks)

    def _keep(self, r: httpx.Response) -> None:
        if r.status_code >= 400:
            r.read()
            key = f"{r.request.method} {r.request.url} -> {r.status_code}"
            while key in self.errors:
                key += "'"
            self.errors[key] = expand_tokens(r.text)


def _citizen_body(cccd: str, **over: str) -> dict[str, str]:
    return {
        "cccd": cccd,
        "full_name": FULL_NAME,
        "birth_date": "2003-05-17",
        "sex": "female",
        "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
        "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
        **over,
    }


def _hide_keys(city: ProductionCity, hidden: dict[str, str]) -> dict[str, str]:
    hidden["keystore passphrase"] = city.passphrase
    for agency, key in city.api_keys.items():
        hidden[f"API key of {agency}"] = key
        hidden[f"API key secret of {agency}"] = key.split("_", 2)[2]
    for agency, (_, password) in city.staff.items():
        hidden[f"staff password of {agency}"] = password
    hidden["wrong staff password"] = WRONG_PASSWORD
    key_id = city.api_keys["ubnd-hcm"].split("_", 2)[1]
    wrong = {
        "malformed API key": "not-an-api-key-" + secrets.token_hex(8),
        "unknown API key": f"xk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",
        "API key with a wrong secret": f"xk_{key_id}_{secrets.token_urlsafe(32)}",
    }
    hidden.update(wrong)
    return wrong


def _bad_keys(rec: Recorder, city: ProductionCity, wrong: dict[str, str], cccd: str) -> None:
    c = rec.client
    files = {"file": ("qd.pdf", b"%PDF-1.7 refused", "application/pdf")}
    assert c.post("/v1/documents", data={**META, "number": "1/QĐ-UBND"}, files=files).status_code == 401
    for key in wrong.values():
        r = c.post("/v1/documents", data={**META, "number": "1/QĐ-UBND"}, files=files, headers=_bearer(key))
        assert r.status_code == 401, r.text
        r = c.post("/v1/citizens", json=_citizen_body(cccd), headers=_bearer(key))
        assert r.status_code == 401, r.text
    # the documents agency's key, without the identity role, carrying a citizen: 403, and nothing echoed
    r = c.post("/v1/citizens", json=_citizen_body(cccd), headers=city.auth("ubnd-hcm"))
    assert r.status_code == 403, r.text


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _documents(rec: Recorder, city: ProductionCity, log_only: dict[str, str]) -> list[str]:
    """One document over the API, one by the clerk in the portal (after a wrong password and an unknown name);
    both anchored and verified valid. Returns their ids."""
    c = rec.client
    r = c.post(
        "/v1/documents",
        data={**META, "number": "41/QĐ-UBND"},
        files={"file": ("qd.pdf", b"%PDF-1.7 privacy " + secrets.token_bytes(8), "application/pdf")},
        headers=city.auth("ubnd-hcm"),
    )
    assert r.status_code == 201, r.text
    api_doc = r.json()
    # public by design (the document's own view and bundle carry it), but never in a log line
    log_only["document payload"] = unquote(api_doc["verify_url"].split("#", 1)[1])

    username, password = city.staff["ubnd-hcm"]
    for who, pw in ((username, WRONG_PASSWORD), ("nobody-" + secrets.token_hex(3), password)):
        status, client = sign_in(city.base, who, pw, event_hooks=rec.hooks)
        client.close()
        assert status != 303
    status, portal = sign_in(city.base, username, password, event_hooks=rec.hooks)
    assert status == 303
    try:
        page = portal.get("/agency/issue").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf, "no CSRF token in the issue form"
        r = portal.post(
            "/agency/issue",
            data={**META, "number": "42/QĐ-UBND", "csrf_token": csrf[1]},
            files={"file": ("qd.pdf", b"%PDF-1.7 portal " + secrets.token_bytes(8), "application/pdf")},
        )
        assert r.status_code == 303, r.text
        portal_id = r.headers["location"].rsplit("/", 1)[1]
    finally:
        portal.close()
    ids = [api_doc["id"], portal_id]
    for doc_id in ids:
        doc = _wait_status(rec, doc_id, "anchored")
        verdict = c.post("/v1/verify", json={"payload": doc["verify_url"]}).json()["verdict"]
        assert verdict == "valid", verdict
    return ids


def _wait_status(rec: Recorder, doc_id: str, status: str, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        doc = dict(rec.client.get(f"/v1/documents/{doc_id}").json())
        if doc["status"] == status:
            return doc
        assert time.monotonic() < deadline, f"{doc_id} stayed {doc['status']}"
        time.sleep(0.1)


def _citizen(rec: Recorder, city: ProductionCity, cccd: str) -> tuple[str, str, str]:
    """The citizen registered (then refused twice: again, and with a contradicting birth year), a credential
    issued and verified. Returns the citizen id, the credential's id and the credential."""
    c, auth = rec.client, city.auth("ca-hcm")
    r = c.post("/v1/citizens", json=_citizen_body(cccd), headers=auth)
    assert r.status_code == 201, r.text
    citizen_id = str(r.json()["id"])
    nfd = unicodedata.normalize("NFD", FULL_NAME)
    assert c.post("/v1/citizens", json=_citizen_body(cccd, full_name=nfd), headers=auth).status_code == 409
    bad = c.post("/v1/citizens", json=_citizen_body(cccd, birth_date="1999-05-17"), headers=auth)
    assert bad.status_code == 422, bad.text
    vi = {**auth, "Accept-Language": "vi"}
    assert c.post("/v1/citizens", json=_citizen_body("000" + cccd[3:]), headers=vi).status_code == 422
    assert c.post("/v1/citizens", json={**_citizen_body(cccd), "cccd": int(cccd)}, headers=auth).status_code == 422
    broken = f'{{"cccd": "{cccd}", "full_name": "{FULL_NAME}",'.encode()
    r = c.post("/v1/citizens", content=broken, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    r = c.post(f"/v1/citizens/{citizen_id}/credentials", json={}, headers=auth)
    assert r.status_code == 201, r.text
    issued = r.json()
    report = c.post("/v1/verify", json={"payload": issued["credential"]}).json()
    assert report["kind"] == "citizen_id", report
    return citizen_id, str(issued["id"]), str(issued["credential"])


def _openid(rec: Recorder, city: ProductionCity, citizen_id: str, work: Path, hidden: dict[str, str]) -> str:
    """An OpenID4VCI offer redeemed by a wallet after a wrong transaction code; the used code replayed; a
    presentation of the name and CCCD number answered. Returns the offer document's URL (public)."""
    c = rec.client
    r = c.post(f"/v1/citizens/{citizen_id}/offers", headers=city.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    offer_out = r.json()
    hidden["tx_code"] = str(offer_out["tx_code"])
    offer = fetch_offer(c, offer_out["offer_uri"])
    hidden["pre-authorized code"] = offer.pre_authorized_code
    token_url = f"{city.base}/oid4vci/token"
    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code"}
    wrong = "000000" if offer_out["tx_code"] != "000000" else "111111"
    r = c.post(token_url, data={**grant, "pre-authorized_code": offer.pre_authorized_code, "tx_code": wrong})
    assert r.status_code == 400, r.text
    r = c.post(token_url, data={**grant, "pre-authorized_code": "x" + offer.pre_authorized_code[1:]})
    assert r.status_code == 400, r.text
    wallet = create_wallet(work / "wallet.json", "citizen passphrase", scrypt_n=2**10)
    now = datetime.now(UTC)
    receive(c, wallet, offer, tx_code=offer_out["tx_code"], now=now)
    replay = {**grant, "pre-authorized_code": offer.pre_authorized_code, "tx_code": offer_out["tx_code"]}
    assert c.post(token_url, data=replay).status_code == 400  # redeemed once

    r = c.post("/v1/presentation-requests", json={"claims": ["full_name", "personal_id"]})
    assert r.status_code == 201, r.text
    asked = r.json()
    assert c.post("/v1/presentation-requests", json={"claims": [FULL_NAME]}).status_code == 422
    request = fetch_request(c, asked["wallet_link"], now=now)
    respond(c, wallet, request, now=now)
    state = c.get(f"/v1/presentation-requests/{asked['id']}").json()
    assert state["report"]["verdict"] == "valid", state
    return str(offer_out["credential_offer_uri"])


def _revoke_and_provoke(rec: Recorder, city: ProductionCity, doc_ids: list[str], credential_id: str, cccd: str) -> None:
    c = rec.client
    r = c.post(f"/v1/credentials/{credential_id}/revoke", headers=city.auth("ca-hcm"))
    assert r.status_code == 200, r.text
    r = c.post(f"/v1/documents/{doc_ids[0]}/revoke", json={"reason": "annulled"}, headers=city.auth("ubnd-hcm"))
    assert r.status_code in (200, 202), r.text
    _wait_status(rec, doc_ids[0], "revoked")
    # another agency's key on these: refused
    r = c.post(f"/v1/documents/{doc_ids[1]}/revoke", json={"reason": "annulled"}, headers=city.auth("ca-hcm"))
    assert r.status_code == 403, r.text
    assert c.post(f"/v1/credentials/{credential_id}/revoke", headers=city.auth("ubnd-hcm")).status_code == 403
    # errors on purpose, the citizen's data in the request where a careless handler would echo it
    for path in (f"/v1/citizens/{cccd}", f"/v1/documents/{cccd}", f"/v1/status-lists/{cccd}"):
        assert c.get(path).status_code in (404, 405)
    assert c.post(f"/v1/citizens/{cccd}/credentials", json={}, headers=city.auth("ca-hcm")).status_code == 404
    assert c.post(f"/v1/credentials/{cccd}/revoke", headers=city.auth("ca-hcm")).status_code == 404
    assert c.post("/v1/verify", json={"payload": cccd, "audience": FULL_NAME, "nonce": cccd}).status_code < 500
    assert c.post("/v1/verify", json={"payload": 12, "nonce": FULL_NAME}).status_code == 422
    r = c.post("/v1/verify", content=f"{{{cccd}".encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert c.get(f"/v1/presentation-requests/{cccd}").status_code == 404
    assert c.post(f"/oid4vp/responses/{cccd}", data={"vp_token": FULL_NAME}).status_code in (400, 404)
    assert c.get("/oid4vci/offers/" + cccd).status_code in (400, 404)


def _public(rec: Recorder, city: ProductionCity, doc_ids: list[str], credential: str, offer_url: str) -> dict[str, str]:
    """Every public endpoint's answer after the run, its tokens decoded."""
    c = rec.client
    payload = credential.split("~", 1)[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    status_uri = str(claims["status"]["status_list"]["uri"])
    urls = [
        "/",
        "/verify",
        "/v",
        "/verify/request",
        "/wallet",
        "/openapi.json",
        "/docs",
        "/v1/messages",
        "/v1/trust-list",
        "/v1/trust-root",
        "/.well-known/jwks.json",
        "/.well-known/openid-credential-issuer",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwt-vc-issuer",
        "/.well-known/jwt-vc-issuer/agencies/ca-hcm",
        "/v1/offline-bundle",
        "/v1/agencies/ubnd-hcm/offices",
        "/healthz",
        "/readyz",
        "/metrics",
        status_uri,
        offer_url,
    ]
    for doc_id in doc_ids:
        urls += [f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}/bundle", f"/v1/documents/{doc_id}/qr.svg"]
    answers: dict[str, str] = {}
    for url in urls:
        r = c.get(url)
        assert r.status_code < 500, f"{url}: {r.status_code}"
        answers[url] = expand_tokens(r.text)
    return answers


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("privacy")
    node = AnvilNode(anvil_binary(), state_file=work / "anvil" / "state.json")
    node.start()
    hidden: dict[str, str] = {}
    log_only: dict[str, str] = {}
    cccd = cccd_2003_female_hcm()
    hidden["CCCD number"] = cccd
    for i, form in enumerate(sorted(name_forms(FULL_NAME))):
        hidden[f"citizen's name, form {i}"] = form
    try:
        with production_city(work, node) as city:
            rec = Recorder(city.base)
            with rec.client:
                wrong = _hide_keys(city, hidden)
                _bad_keys(rec, city, wrong, cccd)
                doc_ids = _documents(rec, city, log_only)
                citizen_id, credential_id, credential = _citizen(rec, city, cccd)
                offer_url = _openid(rec, city, citizen_id, work, hidden)
                _revoke_and_provoke(rec, city, doc_ids, credential_id, cccd)
                public = _public(rec, city, doc_ids, credential, offer_url)
                metrics = rec.client.get("/metrics").text
                errors = dict(rec.errors)
            logs = city.logs()
    finally:
        node.stop()
    yield Run(logs, metrics, errors, public, hidden, log_only, credential)


def test_the_sweep_can_see_what_it_looks_for(run: Run) -> None:
    """Controls: the credential itself holds the CCCD number and the name (in its decoded disclosures), the run
    provoked errors of each kind, and the log holds the run's requests; a sweep that found nothing there would
    prove nothing."""
    inside = find_leaks({"CCCD number": run.hidden["CCCD number"]}, {"credential": expand_tokens(run.credential)})
    assert inside, "the decoded credential should hold the CCCD number"
    assert find_leaks({"name": FULL_NAME}, {"credential": expand_tokens(run.credential)})
    statuses = {key.rsplit(" ", 1)[1].rstrip("'") for key in run.errors}
    assert {"400", "401", "403", "404", "409", "422"} <= statuses, statuses
    assert "/v1/citizens" in run.logs["serve stderr"] and "/oid4vci/token" in run.logs["serve stderr"]
    assert {"tx_code", "pre-authorized code", "keystore passphrase", "API key of ca-hcm"} <= set(run.hidden)


def test_no_cccd_name_api_key_passphrase_password_or_code_in_the_serve_logs(run: Run) -> None:
    assert run.log_only
    hidden = {**run.hidden, **run.log_only}
    assert find_leaks(hidden, {k: expand_tokens(v) for k, v in run.logs.items()}) == []


def test_no_cccd_name_api_key_passphrase_password_or_code_in_metrics(run: Run) -> None:
    assert find_leaks(run.hidden, {"/metrics": run.metrics}) == []


def test_no_cccd_name_api_key_passphrase_password_or_code_in_any_error_body(run: Run) -> None:
    assert len(run.errors) >= 20
    assert find_leaks(run.hidden, run.errors) == []


def test_no_cccd_name_api_key_passphrase_password_or_code_in_any_public_endpoint(run: Run) -> None:
    """The offer document carries the pre-authorized code by design (the wallet redeems it with the transaction
    code, said aloud by the clerk); nothing else public does."""
    offer = [url for url in run.public if "/oid4vci/offers/" in url]
    assert len(offer) == 1
    by_design = {k: v for k, v in run.hidden.items() if k != "pre-authorized code"}
    leaks = find_leaks(by_design, {offer[0]: run.public[offer[0]]})
    leaks += find_leaks(run.hidden, {k: v for k, v in run.public.items() if k != offer[0]})
    assert leaks == []
