"""``/v#<payload>`` (where a phone's camera app lands) verifies at once: valid, revoked, superseded (the
replacement's number shown), pending and untrusted, each with the card's hooks (``data-verdict``, ``data-check``,
``data-status``); and ``/verify``'s pasted link gives the same card."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, NewPage, Server


def _doc(server: Server, number: str, anchored: bool = True) -> dict[str, object]:
    doc = server.issue(number, os.urandom(32) + number.encode())
    if anchored:
        server.wait_status(str(doc["id"]), "anchored")
    return doc


def _open(page: Page, server: Server, link: str, lang: str = "vi") -> Page:
    page.goto(f"{server.base}/v?lang={lang}#{link.split('#', 1)[1]}")
    expect(page.locator("[data-verdict]")).to_be_visible()
    return page


def test_link_shows_a_valid_document_with_its_fields_and_folded_checks(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    doc = _doc(server, "101/QĐ-UBND")
    page = _open(new_page(**PHONE), server, str(doc["verify_url"]))
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "valid")
    expect(card.locator(".verdict-word")).to_have_text("Hợp lệ")
    expect(card.locator(".sentence")).to_have_text(
        "Văn bản hợp lệ, do Ủy ban nhân dân Thành phố Hồ Chí Minh ban hành ngày 20/11/2026."
    )
    expect(card.locator('[data-field="number"]')).to_have_text("101/QĐ-UBND")
    expect(card.locator('[data-field="signer"]')).to_have_text("Nguyễn Văn Dũng (KT. Phó Chủ tịch)")
    expect(card.locator('[data-field="tx"]')).to_have_text(str(server.document(str(doc["id"]))["proof"]["tx_hash"]))
    checks = card.locator("[data-check]")
    expect(checks.first).to_be_hidden()  # folded by default
    for name in ("signature", "anchored", "not_revoked"):
        expect(card.locator(f'[data-check="{name}"]')).to_have_attribute("data-status", "valid")
    screenshot(page, "v-valid-vi-phone")
    card.locator("summary").click()
    expect(checks.first).to_be_visible()
    screenshot(page, "v-valid-vi-phone-checks")


def _until(server: Server, payload: str, verdict: str, deadline_s: float = 60) -> None:
    """Wait until the service itself answers ``verdict`` (a revocation is sent and confirmed by the worker)."""
    deadline = time.monotonic() + deadline_s
    while (got := server.verify(payload)["verdict"]) != verdict:
        assert time.monotonic() < deadline, f"still {got}, not {verdict}"
        time.sleep(0.1)


def test_link_shows_a_revoked_document(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    doc = _doc(server, "102/QĐ-UBND")
    server.revoke(str(doc["id"]), "annulled")
    _until(server, str(doc["verify_url"]), "revoked")
    page = _open(new_page(**PHONE), server, str(doc["verify_url"]), "en")
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "revoked")
    expect(card.locator(".verdict-word")).to_have_text("Revoked")
    expect(card.locator('[data-check="not_revoked"]')).to_have_attribute("data-status", "invalid")
    expect(card.locator('[data-field="reason"]')).to_have_text("annulled")
    screenshot(page, "v-revoked-en-phone")


def test_link_shows_a_superseded_document_and_its_replacements_number(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    old, new = _doc(server, "103/QĐ-UBND"), _doc(server, "104/QĐ-UBND")
    server.revoke(str(old["id"]), "replaced", replaced_by=str(new["id"]))
    _until(server, str(old["verify_url"]), "superseded")
    for lang, word, width in (("vi", "Đã được thay thế", 1280), ("en", "Superseded", 360)):
        page = _open(new_page(width=width), server, str(old["verify_url"]), lang)
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "superseded")
        expect(card.locator(".verdict-word")).to_have_text(word)
        expect(card.locator(".sentence")).to_contain_text("104/QĐ-UBND")
        expect(card.locator('[data-field="replacement"]')).to_have_text("104/QĐ-UBND")
        screenshot(page, f"v-superseded-{lang}-{'desktop' if width > 360 else 'phone'}")


def test_link_shows_a_pending_document(
    other_city: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    doc = _doc(other_city, "105/QĐ-UBND", anchored=False)  # this city has no anchoring worker
    page = _open(new_page(), other_city, str(doc["verify_url"]))
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "pending")
    expect(card.locator(".verdict-word")).to_have_text("Đang chờ ghi sổ")
    expect(card.locator('[data-check="anchored"]')).to_have_attribute("data-status", "invalid")
    expect(card.locator('[data-check="signature"]')).to_have_attribute("data-status", "valid")
    screenshot(page, "v-pending-vi-desktop")


def test_link_shows_a_document_of_another_city_as_untrusted(
    server: Server, other_city: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    doc = _doc(other_city, "106/QĐ-UBND", anchored=False)
    link = str(doc["verify_url"]).replace(other_city.base, server.base)
    page = _open(new_page(), server, link)
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "untrusted")
    expect(card.locator(".verdict-word")).to_have_text("Không rõ nguồn gốc")
    expect(card.locator('[data-check="issuer_trusted"]')).to_have_attribute("data-status", "invalid")
    screenshot(page, "v-untrusted-vi-desktop")


def test_verify_page_checks_a_pasted_link(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    doc = _doc(server, "107/QĐ-UBND")
    page = new_page()
    page.goto(f"{server.base}/verify?lang=en")
    page.get_by_role("tab", name="Paste").click()
    page.get_by_label("QR code text or verification link").fill(str(doc["verify_url"]))
    page.get_by_role("button", name="Check", exact=True).click()
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "valid")
    expect(card.locator(".sentence")).to_have_text(
        "Valid document, issued by Ủy ban nhân dân Thành phố Hồ Chí Minh on 20 November 2026."
    )
    screenshot(page, "verify-paste-valid-en-desktop")
