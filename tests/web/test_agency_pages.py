"""Every portal page (sign-in, dashboard, list, issue with errors, document page, confirmation, import, audit) is
clean under axe-core (served from our own host in development mode: no serious or critical violation), at 360 px
and desktop width, in Vietnamese and English, with no sideways scrolling; each is screenshotted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import DESKTOP, PHONE, NewPage, Server
from tests.web.test_agency_security import staff_of
from tests.web.test_verify_pages import axe_violations

SIZES = {"phone": PHONE, "desktop": DESKTOP}
Shot = Callable[[Page, str], Path]


@pytest.fixture(scope="module")
def anchored(server: Server) -> dict[str, Any]:
    doc = server.issue("601/QĐ-UBND", b"%PDF-1.7 the accessible pages")
    server.wait_status(str(doc["id"]), "anchored")
    return doc


def _check(page: Page, name: str, width: int, found: dict[str, Any], screenshot: Shot) -> None:
    expect(page.locator("h1")).to_be_visible()
    violations = axe_violations(page)
    if violations:
        found[name] = violations
    overflow = page.evaluate("document.documentElement.scrollWidth")
    if overflow > width:
        found[f"{name} (scroll width)"] = overflow
    screenshot(page, name)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_portal_page_is_accessible(
    server: Server, new_page: NewPage, screenshot: Shot, anchored: dict[str, Any], lang: str, size: str
) -> None:
    width = SIZES[size]["width"]
    page = new_page(**SIZES[size])
    found: dict[str, Any] = {}
    tag = f"{lang}-{size}"

    def check(name: str) -> None:
        _check(page, f"a11y-agency-{name}-{tag}", width, found, screenshot)

    page.goto(f"{server.base}/agency/signin?lang={lang}")
    check("signin")
    who = staff_of(server, role="manager")
    page.locator("#username").fill(who["username"])
    page.locator("#password").fill(who["password"])
    page.locator("form.form-card button[type=submit]").click()
    expect(page.locator(".counts")).to_be_visible()
    check("dashboard")
    page.goto(f"{server.base}/agency/documents")
    expect(page.locator(".doc-table")).to_be_visible()
    check("documents")
    page.goto(f"{server.base}/agency/issue")
    page.locator("#f-number").fill("15/XYZ")
    page.locator("#f-file").set_input_files(
        files=[{"name": "x.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 refused"}]
    )
    page.locator("#issue-form button[type=submit]").click()
    expect(page.locator("#f-number")).to_have_attribute("aria-invalid", "true")  # the server's answer (422)
    expect(page.locator("#e-number")).not_to_be_empty()
    check("issue-errors")
    page.goto(f"{server.base}/agency/documents/{anchored['id']}")
    expect(page.locator("#revoke-section")).to_be_visible()
    check("document")
    page.locator(".revoke-form button[type=submit]").click()
    expect(page.get_by_role("alertdialog")).to_be_visible()
    check("confirm")
    page.goto(f"{server.base}/agency/import")
    check("import")
    page.goto(f"{server.base}/agency/audit")
    expect(page.locator(".doc-table")).to_be_visible()
    check("audit")
    assert found == {}
