"""``/v#<payload>`` (where a phone's camera app lands) verifies at once: valid, revoked, superseded (the
replacement's number shown), pending and untrusted, each with the card's hooks (``data-verdict``, ``data-check``,
``data-status``); and ``/verify``'s pasted link gives the same card."""

from __future__ import annotations

import os
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
