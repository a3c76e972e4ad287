"""The home page links to ``/wallet``; until the web wallet exists (issue 12), that link leads to a page saying it
comes soon, in both languages (never a 404), accessible and under the site's headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, NewPage, Server
from tests.web.test_verify_pages import axe_violations

SOON = {"vi": ("Ví sắp ra mắt", "sắp ra mắt"), "en": ("Wallet coming soon", "coming soon")}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_home_wallet_link_leads_to_a_coming_soon_page_not_a_404(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path], lang: str
) -> None:
    link_text, said = SOON[lang]
    page = new_page(**PHONE)
    page.goto(f"{server.base}/?lang={lang}")
    with page.expect_response(f"{server.base}/wallet") as answer:
        page.get_by_role("link", name=link_text).click()
    assert answer.value.status == 200
    assert "frame-ancestors 'none'" in answer.value.headers["content-security-policy"]
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator('[data-wallet="soon"]')).to_contain_text(said)
    expect(page.locator("main a[href='/verify']")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, f"wallet-soon-{lang}-phone")
