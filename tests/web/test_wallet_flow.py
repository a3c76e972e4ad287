"""Issue 12 end to end in Chromium, three browser contexts on one server: a clerk of the identity agency creates a
wallet offer in the portal; the citizen's wallet (/wallet, its own context at phone width) opens the offer's link and
receives the credential with the transaction code the clerk read out; a relying party (/verify/request, a third
context) asks for age_over_18 only; the wallet opens the request's link and approves; the relying party's page shows
data-verdict="valid" with exactly that claim, without reloading. Also: five wrong transaction codes kill the offer
(the wallet says so, and the right code no longer works); the wallet's response, captured as it is sent and replayed,
is refused with 400 and the relying party's verdict stays. The guard of ``new_page`` fails a test if any request
leaves 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import PHONE, TIMEOUT, NewPage, Server
from tests.web.test_agency_citizens import (
    IDENTITY,
    create_offer_in_portal,
    name_tag,
    new_cccd,
    register_citizen,
    sign_in_as,
)

Shot = Callable[[Page, str], Path]
SLOW = 60_000  # ms: a deadline for steps that sign and verify (the machine is shared), not a measurement


def _missing(server: Server, path: str, piece: str) -> None:
    r = httpx.get(f"{server.base}{path}", timeout=TIMEOUT)
    if r.status_code == 404:
        pytest.skip(f"{piece} is missing: GET {path} is 404")


def clerk_offer(server: Server, new_page: NewPage, screenshot: Shot | None = None) -> dict[str, str]:
    """A clerk of the demo identity agency registers a new citizen and creates a wallet offer in the portal."""
    clerk = new_page()
    sign_in_as(clerk, server, IDENTITY)
    name = f"Nguyễn Thị Minh Khai {name_tag()}"
    citizen_id = register_citizen(clerk, server, name, new_cccd())
    offer = create_offer_in_portal(clerk, server, citizen_id)
    if screenshot is not None:
        screenshot(clerk, "flow-1-clerk-offer-vi-desktop")
    return {**offer, "name": name, "citizen_id": citizen_id}


def open_wallet(new_page: NewPage, server: Server) -> Page:
    wallet = new_page(**PHONE)
    wallet.goto(f"{server.base}/wallet")
    expect(wallet.locator("body")).to_have_attribute("data-wallet-ready", "true", timeout=SLOW)
    return wallet


def open_offer(wallet: Page, url: str) -> None:
    wallet.goto(url)
    expect(wallet.locator("#receive-step")).to_be_visible(timeout=SLOW)


def receive(wallet: Page, offer: dict[str, str]) -> None:
    open_offer(wallet, offer["wallet_url"])
    wallet.locator("#tx-code").fill(offer["tx_code"])
    wallet.locator("#tx-submit").click()
    card = wallet.locator("[data-credential-card]", has_text=offer["name"])
    expect(card).to_be_visible(timeout=SLOW)
    expect(wallet.locator("#wallet-message")).to_have_attribute("data-kind", "ok")


def disclosed_claims(sd_jwt: str) -> list[str]:
    """The claim names an SD-JWT presentation (``jwt~disclosure~...~kb-jwt``) discloses."""
    names = []
    for part in sd_jwt.split("~")[1:-1]:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        if len(decoded) == 3:
            names.append(str(decoded[1]))
    return sorted(names)


def test_clerk_offer_wallet_receives_relying_party_gets_exactly_age_over_18(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    _missing(server, "/wallet", "the wallet page (part C)")
    offer = clerk_offer(server, new_page, screenshot)

    wallet = open_wallet(new_page, server)
    receive(wallet, offer)
    screenshot(wallet, "flow-2-wallet-received-vi-phone")
    _missing(server, "/verify/request", "the relying party's page /verify/request (part B)")

    rp = new_page(**PHONE)
    rp.goto(f"{server.base}/verify/request")
    form = rp.locator("#request-form")
    form.locator("[data-preset='age_over_18']").click()
    checked = form.locator("input[name='claims']:checked")
    expect(checked).to_have_count(1)
    expect(checked).to_have_value("age_over_18")
    form.locator("button[type='submit']").click()
    expect(rp.locator("#request-live")).to_be_visible(timeout=SLOW)
    link = rp.locator("#request-link")
    expect(link).to_have_value(re.compile(rf"^{re.escape(server.base)}/wallet#client_id="))
    request_url = link.input_value()
    qr = rp.locator("#request-qr")
    expect(qr).to_be_visible()
    expect(qr).to_have_js_property("complete", True)
    assert qr.evaluate("img => img.naturalWidth") > 0
    expect(rp.locator("#request-state")).to_have_attribute("data-state", "pending")
    rp.evaluate("window.__notReloaded = true")
    screenshot(rp, "flow-3-relying-party-request-vi-phone")

    sent: list[Request] = []
    wallet.on("request", lambda r: sent.append(r) if "/oid4vp/responses/" in r.url and r.method == "POST" else None)
    wallet.goto(request_url)
    step = wallet.locator("#request-step")
    expect(step).to_be_visible(timeout=SLOW)
    boxes = wallet.locator("#request-claims input[data-claim]")
    expect(boxes).to_have_count(1)
    expect(boxes.first).to_have_attribute("data-claim", "age_over_18")
    screenshot(wallet, "flow-4-wallet-request-vi-phone")
    wallet.locator("#request-approve").click()
    expect(wallet.locator("#wallet-message")).to_have_attribute("data-kind", "ok", timeout=SLOW)

    verdict = rp.locator("#result [data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "valid", timeout=SLOW)
    assert rp.evaluate("window.__notReloaded") is True  # the verdict came in place
    expect(rp.locator("#request-state")).to_have_attribute("data-state", "answered")
    shown = verdict.locator("dd[data-field]")  # the disclosed claims, as /verify's card shows them
    expect(shown).to_have_count(1)
    expect(shown).to_have_attribute("data-field", "age_over_18")
    expect(verdict.locator("[data-check='requested_claims']")).to_have_attribute("data-status", "valid")
    screenshot(rp, "flow-5-relying-party-valid-vi-phone")

    # what the wallet sent discloses exactly age_over_18, bound to the request
    assert len(sent) == 1, [r.url for r in sent]
    posted = sent[0]
    body = dict(httpx.QueryParams(posted.post_data or ""))
    token = json.loads(body["vp_token"])
    presentations = [p for values in token.values() for p in values]
    assert len(presentations) == 1
    assert disclosed_claims(presentations[0]) == ["age_over_18"]

    # the same response replayed: refused, and the relying party's verdict stays
    replay = httpx.post(
        posted.url, content=posted.post_data or "", headers={"Content-Type": posted.headers["content-type"]}
    )
    assert replay.status_code == 400, replay.text
    assert replay.json()["error"] == "invalid_request"
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(shown).to_have_count(1)
    assert rp.evaluate("window.__notReloaded") is True


def test_five_wrong_transaction_codes_kill_the_offer(server: Server, new_page: NewPage, screenshot: Shot) -> None:
    _missing(server, "/wallet", "the wallet page (part C)")
    offer = clerk_offer(server, new_page)
    wrong = f"{(int(offer['tx_code']) + 1) % 10**6:06d}"
    wallet = open_wallet(new_page, server)
    open_offer(wallet, offer["wallet_url"])
    error = wallet.locator("#tx-error")
    for left in (4, 3, 2, 1):
        wallet.locator("#tx-code").fill(wrong)
        wallet.locator("#tx-submit").click()
        expect(error).to_have_text(f"Mã giao dịch không đúng. Còn {left} lần thử.", timeout=SLOW)
        expect(wallet.locator("#tx-code")).to_have_attribute("aria-invalid", "true")
    wallet.locator("#tx-code").fill(wrong)
    wallet.locator("#tx-submit").click()
    message = wallet.locator("#wallet-message")
    expect(message).to_have_attribute("data-kind", "error", timeout=SLOW)
    expect(message).to_have_text("Nhập sai mã quá nhiều lần: lời mời đã bị hủy. Hãy xin cán bộ một lời mời mới.")
    expect(wallet.locator("#receive-step")).to_be_hidden()
    screenshot(wallet, "flow-wallet-offer-dead-vi-phone")

    # dead: the offer is gone, and the right code no longer gets a token
    gone = httpx.get(f"{server.base}/oid4vci/offers/{offer['offer_id']}", timeout=TIMEOUT)
    assert gone.status_code == 404 and gone.json()["error"] == "invalid_request"
    wallet.goto(offer["wallet_url"])  # opening the link again: the wallet says the offer is gone
    expect(message).to_have_text("Lời mời đã hết hạn hoặc đã được dùng. Hãy xin cán bộ một lời mời mới.", timeout=SLOW)
    expect(wallet.locator("#receive-step")).to_be_hidden()
    assert wallet.locator("[data-credential-card]", has_text=offer["name"]).count() == 0


def test_the_code_is_neither_in_the_link_nor_in_the_offer_the_wallet_fetches(server: Server, new_page: NewPage) -> None:
    """The code the clerk reads out is nowhere the citizen's link or the offer the wallet fetches could leak it."""
    offer = clerk_offer(server, new_page)
    r = httpx.get(f"{server.base}/oid4vci/offers/{offer['offer_id']}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert offer["tx_code"] not in json.dumps(body)
    grant = body["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert grant["tx_code"]["length"] == 6 and grant["tx_code"]["input_mode"] == "numeric"
    assert offer["tx_code"] not in offer["wallet_url"]
