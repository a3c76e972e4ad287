"""Issue 12, OpenID4VP in the browser: a relying party opens /verify/request at phone width, asks for age_over_18,
and sees the verdict without a reload once a wallet (written here in Python, over HTTP like any wallet) fetched the
signed request and posted its presentation; a refused and an expired request say so; axe finds no serious issue."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, expect

from identity.presentation import present
from keys.holder_key import P256Key
from keys.x509 import verify_x509_hash_jws
from tests.web.conftest import PHONE, TIMEOUT, NewPage, Server
from tests.web.test_verify_pages import axe_violations

VERDICT_TIMEOUT_MS = 20_000  # the page polls once a second: a deadline, not a measurement


def _citizen_credential(server: Server, holder: P256Key) -> str:
    """A new citizen of the demo identity agency and a credential bound to ``holder``."""
    auth = server.auth("ca-hcm")
    body = {
        "cccd": "079303" + f"{secrets.randbelow(10**6):06d}",
        "full_name": "Nguyễn Thị Minh Khai",
        "birth_date": "2003-05-17",
        "sex": "female",
        "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
        "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    }
    r = httpx.post(f"{server.base}/v1/citizens", json=body, headers=auth, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    citizen_id = r.json()["id"]
    r = httpx.post(
        f"{server.base}/v1/citizens/{citizen_id}/credentials",
        json={"holder_jwk": holder.public_jwk()},
        headers=auth,
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["credential"])


def _ask(page: Page, server: Server, preset: str) -> str:
    """Open the page, pick a preset, make the request; the wallet_url the page shows."""
    assert (response := page.goto(f"{server.base}/verify/request")) is not None and response.status == 200
    page.locator(f'[data-preset="{preset}"]').click()
    page.get_by_role("button", name="Tạo mã QR").click()
    link = page.locator("#request-link")
    expect(link).not_to_have_value("", timeout=VERDICT_TIMEOUT_MS)
    expect(page.locator("#request-state")).to_have_attribute("data-state", "pending")
    expect(page.locator("#request-qr")).to_have_js_property("complete", True)
    return link.input_value()


def _fetch_request(wallet_url: str) -> dict[str, Any]:
    params = parse_qs(urlsplit(wallet_url).fragment)
    r = httpx.get(params["request_uri"][0], timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return verify_x509_hash_jws(r.text, params["client_id"][0]).payload


def test_the_page_asks_for_age_over_18_and_shows_valid_with_exactly_that_claim(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    holder = P256Key.generate()
    credential = _citizen_credential(server, holder)
    page = new_page(**PHONE)
    wallet_url = _ask(page, server, "age_over_18")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "verify-request-qr-vi-phone")
    assert axe_violations(page) == []
    request = _fetch_request(wallet_url)
    assert [c["path"] for c in request["dcql_query"]["credentials"][0]["claims"]] == [["age_over_18"]]
    now = datetime.now(UTC)
    presentation = present(
        credential, ["age_over_18"], holder, audience=request["client_id"], nonce=request["nonce"], now=now
    )
    data = {"vp_token": json.dumps({"citizen_id": [presentation]}), "state": request["state"]}
    r = httpx.post(request["response_uri"], data=data, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    card = page.locator("#result .result-card")
    expect(card).to_have_attribute("data-verdict", "valid", timeout=VERDICT_TIMEOUT_MS)
    fields = card.locator("dd[data-field]")
    expect(fields).to_have_count(1)
    expect(fields.first).to_have_attribute("data-field", "age_over_18")
    expect(card.locator('[data-check="requested_claims"]')).to_have_attribute("data-status", "valid")
    expect(page.locator("#request-live")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "verify-request-valid-vi-phone")
    assert axe_violations(page) == []
    # A replayed response is refused, and the page's verdict stays.
    again = httpx.post(request["response_uri"], data=data, timeout=TIMEOUT)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    page.get_by_role("button", name="Tạo yêu cầu mới").click()
    expect(page.locator("#request-compose")).to_be_visible()


def test_a_refused_request_says_so(server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]) -> None:
    page = new_page(**PHONE)
    request = _fetch_request(_ask(page, server, "full_name birth_date"))
    r = httpx.post(request["response_uri"], data={"error": "access_denied", "state": request["state"]}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    state = page.locator("#request-state")
    expect(state).to_have_attribute("data-state", "refused", timeout=VERDICT_TIMEOUT_MS)
    expect(state).to_contain_text("từ chối")
    expect(page.locator("#request-new")).to_be_visible()
    screenshot(page, "verify-request-refused-vi-phone")


def test_an_expired_request_says_so(server: Server, new_page: NewPage) -> None:
    page = new_page(**PHONE)
    # The server's own expiry is tested in tests/verifier/test_oid4vp_flow.py (its clock is injected there); the
    # served process's clock cannot be moved, so here its answer is read and given the state five minutes later.
    _ask(page, server, "age_over_18")

    def expired(route: Any) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        body = route.fetch().json()
        route.fulfill(json={**body, "state": "expired"}, headers={"Cache-Control": "no-store"})

    page.route("**/v1/presentation-requests/*", expired)
    state = page.locator("#request-state")
    expect(state).to_have_attribute("data-state", "expired", timeout=VERDICT_TIMEOUT_MS)
    expect(state).to_contain_text("hết hạn")


def test_no_claim_chosen_is_said_before_anything_is_sent(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    page = new_page(**PHONE, locale="en-GB")
    page.goto(f"{server.base}/verify/request?lang=en")
    assert axe_violations(page) == []
    screenshot(page, "verify-request-form-en-phone")
    page.get_by_role("button", name="Make the QR code").click()
    expect(page.locator("#request-error")).to_have_text("Choose at least one thing to ask for.")
    expect(page.locator("#request-live")).to_be_hidden()
