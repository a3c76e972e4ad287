"""The citizen's wallet page, /wallet (docs/identity.md "The web wallet"): the holder key, credentials kept in
IndexedDB, the offline QR, removing, working offline, both languages, accessibility. A credential gets in here by
`POST /v1/citizens/{id}/credentials` for the wallet's public key and the page's own `keep()` (the check and store
step of the receive flow); tests/web/test_wallet_protocols.py drives the real OpenID4VCI and OpenID4VP flows."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from identity import transport
from identity.presentation import available_claims
from identity.sdjwt import parse_jws, split_compact
from tests.web.conftest import PHONE, TIMEOUT, NewPage, Server
from tests.web.test_verify_pages import axe_violations

IDENTITY_AGENCY = "ca-hcm"
AGENCY_VI = "Công an Thành phố Hồ Chí Minh"


def register_citizen(server: Server, full_name: str = "Nguyễn Thị Minh Khai") -> str:
    """A new citizen at the identity agency (a fresh CCCD number each time: the agency refuses a number twice)."""
    body = {
        "cccd": f"079303{secrets.randbelow(10**6):06d}",
        "full_name": full_name,
        "birth_date": "2003-05-17",
        "sex": "female",
        "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
        "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    }
    r = httpx.post(f"{server.base}/v1/citizens", json=body, headers=server.auth(IDENTITY_AGENCY), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def open_wallet(new_page: NewPage, server: Server, lang: str = "vi", **size: int) -> Page:
    page = new_page(**(size or PHONE))
    page.goto(f"{server.base}/wallet?lang={lang}")
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    return page


def holder_jwk(page: Page) -> dict[str, Any]:
    return dict(json.loads(page.locator("body").get_attribute("data-holder-jwk") or "{}"))


def issue_into(page: Page, server: Server, full_name: str = "Nguyễn Thị Minh Khai") -> dict[str, Any]:
    """Issue a credential for the page's holder key and store it with the page's own check-and-keep step."""
    citizen = register_citizen(server, full_name)
    r = httpx.post(
        f"{server.base}/v1/citizens/{citizen}/credentials",
        json={"holder_jwk": holder_jwk(page)},
        headers=server.auth(IDENTITY_AGENCY),
        timeout=TIMEOUT,
    )
    assert r.status_code == 201, r.text
    compact = r.json()["credential"]
    entry = page.evaluate("async (c) => (await import('/static/wallet/receive.js')).keep(c)", compact)
    page.reload()
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    return {"compact": compact, "id": entry["id"], "revoke_id": r.json()["id"]}


def stored_ids(page: Page) -> list[str]:
    return list(
        page.evaluate("async () => (await (await import('/static/wallet/store.js')).allCredentials()).map((e) => e.id)")
    )


def show_offline_qr(page: Page, card: Any) -> str:
    card.get_by_role("button", name="Xuất trình bằng mã QR").click()
    qr = page.locator("#offline-qr")
    expect(qr).not_to_have_attribute("data-payload", "")
    return str(qr.get_attribute("data-payload"))


def test_private_key_is_not_extractable(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    result = page.evaluate(
        """async () => {
          const { holderKey } = await import('/static/wallet/holder-key.js');
          const { privateKey } = await holderKey();
          const tries = [];
          for (const format of ['jwk', 'pkcs8']) {
            try { await crypto.subtle.exportKey(format, privateKey); tries.push(format + ': exported'); }
            catch (e) { tries.push(format + ': ' + e.name); }
          }
          return { extractable: privateKey.extractable, type: privateKey.type, tries };
        }"""
    )
    assert result == {
        "extractable": False,
        "type": "private",
        "tries": ["jwk: InvalidAccessError", "pkcs8: InvalidAccessError"],
    }
    jwk = holder_jwk(page)
    assert set(jwk) == {"kty", "crv", "x", "y"} and jwk["crv"] == "P-256"
    page.reload()
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    assert holder_jwk(page) == jwk  # the same key after a reload: it lives in IndexedDB


def test_credential_survives_a_reload_and_its_card_names_the_agency_in_vietnamese(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    page = open_wallet(new_page, server)
    expect(page.locator("#wallet-empty")).to_be_visible()
    screenshot(page, "wallet-empty-vi-phone")
    issued = issue_into(page, server, "Trần Văn Bình")
    page.reload()
    card = page.locator(f"[data-credential-card][data-credential-id='{issued['id']}']")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text("Trần Văn Bình")
    expect(card.locator("[data-agency]")).to_have_text(AGENCY_VI)
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "valid")
    expect(page.locator("#wallet-empty")).to_be_hidden()
    screenshot(page, "wallet-card-vi-phone")


def test_revoked_credential_shows_revoked_from_the_status_list(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    issued = issue_into(page, server)
    r = httpx.post(
        f"{server.base}/v1/credentials/{issued['revoke_id']}/revoke",
        headers=server.auth(IDENTITY_AGENCY),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    page.reload()
    card = page.locator(f"[data-credential-id='{issued['id']}']")
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "revoked")


def test_offline_qr_verifies_as_valid_and_its_kb_jwt_renews_every_minute(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    page = new_page(**PHONE)
    page.clock.install()  # the page's timers and Date on a clock the test moves (no waiting a real minute)
    page.goto(f"{server.base}/wallet")
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    issued = issue_into(page, server)
    card = page.locator(f"[data-credential-id='{issued['id']}']")
    first = show_offline_qr(page, card)
    assert first.startswith("XI2:")
    report = server.verify(first)
    assert report["verdict"] == "valid", report
    screenshot(page, "wallet-offline-qr-vi-phone")
    shown = parse_shown(first)
    assert shown["claims"] == {"full_name", "birth_date", "age_over_18"}
    assert shown["aud"] == f"{server.base}/v"

    page.clock.fast_forward(61_000)
    expect(page.locator("#offline-qr")).not_to_have_attribute("data-payload", first)
    second = str(page.locator("#offline-qr").get_attribute("data-payload"))
    renewed = parse_shown(second)
    assert renewed["issuer_jwt"] == shown["issuer_jwt"]
    assert renewed["kb_jwt"] != shown["kb_jwt"] and renewed["nonce"] != shown["nonce"]
    assert renewed["iat"] >= shown["iat"] + 60


def parse_shown(payload: str) -> dict[str, Any]:
    sd = split_compact(transport.decode(payload))
    assert sd.kb_jwt is not None
    kb = parse_jws(sd.kb_jwt).payload
    return {
        "issuer_jwt": sd.issuer_jwt,
        "kb_jwt": sd.kb_jwt,
        "claims": set(available_claims(sd.presented)),
        "aud": kb["aud"],
        "nonce": kb["nonce"],
        "iat": kb["iat"],
    }


def test_unticking_a_claim_leaves_it_out_of_the_offline_qr(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    issued = issue_into(page, server)
    first = show_offline_qr(page, page.locator(f"[data-credential-id='{issued['id']}']"))
    page.locator("#offline-claims input[data-claim='full_name']").uncheck()
    expect(page.locator("#offline-qr")).not_to_have_attribute("data-payload", first)
    payload = str(page.locator("#offline-qr").get_attribute("data-payload"))
    assert parse_shown(payload)["claims"] == {"birth_date", "age_over_18"}


def test_remove_deletes_the_credential(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    issued = issue_into(page, server)
    assert issued["id"] in stored_ids(page)
    card = page.locator(f"[data-credential-id='{issued['id']}']")
    card.get_by_role("button", name="Xóa khỏi ví").click()
    card.get_by_role("button", name="Giữ lại").click()  # changing one's mind keeps it
    assert issued["id"] in stored_ids(page)
    card.get_by_role("button", name="Xóa khỏi ví").click()
    card.get_by_role("button", name="Xóa", exact=True).click()
    expect(card).to_have_count(0)
    expect(page.locator("#wallet-message")).to_contain_text("Đã xóa")
    assert issued["id"] not in stored_ids(page)
    page.reload()
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    expect(page.locator(f"[data-credential-id='{issued['id']}']")).to_have_count(0)


def test_wallet_opens_offline_after_the_first_visit_and_still_shows_the_offline_qr(
    server: Server, new_page: NewPage
) -> None:
    page = open_wallet(new_page, server)
    issued = issue_into(page, server)
    # A function, not an expression: Playwright evals an expression again on every poll, which the page's CSP (no
    # 'unsafe-eval') refuses once the first check, made inside the DevTools call, has found no controller yet.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT * 1000)
    page.context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    card = page.locator(f"[data-credential-id='{issued['id']}']")
    expect(card).to_be_visible()
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "unknown")
    payload = show_offline_qr(page, card)
    page.context.set_offline(False)
    assert server.verify(payload)["verdict"] == "valid"


def test_service_worker_and_manifest_are_served_from_the_root(server: Server) -> None:
    sw = httpx.get(f"{server.base}/wallet-sw.js", timeout=TIMEOUT)
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assets = json.loads(sw.text.split("const ASSETS = ", 1)[1].split(";\n", 1)[0])
    for url in (
        "/static/wallet/wallet-page.js",
        "/static/wallet/lib/sd-jwt.js",
        "/static/icon.svg",
        "/wallet.webmanifest",
    ):
        assert url in assets
    for url in assets:
        assert httpx.get(f"{server.base}{url}", timeout=TIMEOUT).status_code == 200, url
    manifest = httpx.get(f"{server.base}/wallet.webmanifest?lang=vi", timeout=TIMEOUT)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["start_url"] == "/wallet" and manifest.json()["name"].startswith("Ví căn cước số")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_wallet_page_is_accessible_in_both_languages(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path], lang: str
) -> None:
    page = open_wallet(new_page, server, lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert axe_violations(page) == []
    issued = issue_into(page, server)
    card = page.locator(f"[data-credential-id='{issued['id']}']")
    expect(card.locator("[data-status]")).not_to_have_attribute("data-status", "checking")
    card.locator("[data-action=offline]").click()
    expect(page.locator("#offline-qr")).not_to_have_attribute("data-payload", "")
    assert axe_violations(page) == []
    screenshot(page, f"wallet-qr-{lang}-phone")


def test_home_page_links_to_the_wallet(server: Server, new_page: NewPage) -> None:
    page = new_page(**PHONE)
    page.goto(f"{server.base}/?lang=vi")
    page.get_by_role("link", name="Mở ví").click()
    expect(page.locator("body[data-wallet-ready]")).to_be_attached()
    assert page.url.endswith("/wallet")


def test_pasted_text_that_is_no_wallet_link_is_refused_in_words(server: Server, new_page: NewPage) -> None:
    page = open_wallet(new_page, server)
    page.locator("#link-input").fill("https://example.org/some/page")
    page.locator("#link-submit").click()
    expect(page.locator("#wallet-message")).to_contain_text("không phải lời mời")
