"""The agency portal in Chromium: a clerk signs in, issues through the form (checked as typed with the API's
messages), sees the document anchored without reloading, downloads its QR code and verifies it on /verify; revokes
it through the portal behind a confirmation naming it, and /v then shows it revoked. Screenshots of every page, vi
and en, phone and desktop."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import DESKTOP, META, PHONE, NewPage, Server
from tests.web.test_agency_security import staff_of

Shot = Callable[[Page, str], Path]


def sign_in_page(page: Page, server: Server, role: str = "clerk") -> dict[str, str]:
    who = staff_of(server, role=role)
    page.goto(f"{server.base}/agency")
    expect(page).to_have_url(f"{server.base}/agency/signin?next=/agency")
    page.get_by_label("Tên đăng nhập").fill(who["username"])
    page.get_by_label("Mật khẩu").fill(who["password"])
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    return who


def test_clerk_issues_sees_it_anchored_downloads_qr_and_verifies_it(
    server: Server, new_page: NewPage, screenshot: Shot, tmp_path: Path
) -> None:
    page = new_page()
    sign_in_page(page, server)
    page.get_by_role("navigation", name="Cổng cơ quan").get_by_role("link", name="Ban hành văn bản").click()
    form = page.locator("#issue-form")
    # what a clerk would otherwise type every time comes filled in: the agency's name and today's date
    expect(form.get_by_label("Cơ quan ban hành", exact=True)).to_have_value("Ủy ban nhân dân Thành phố Hồ Chí Minh")
    expect(form.get_by_label("Ngày ban hành")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    form.get_by_label("Số, ký hiệu").fill("15/XYZ")
    form.get_by_label("Trích yếu").fill(META["title"])
    error = page.locator("#e-number")
    expect(error).to_contain_text("XYZ")  # the API's DOC_SYMBOL_UNKNOWN message, as the user types
    expect(form.get_by_label("Số, ký hiệu")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "agency-issue-error-vi-desktop")
    form.get_by_label("Số, ký hiệu").fill("15/QĐ-UBND")
    expect(error).to_be_empty()
    for name, label in (
        ("issuing_body", "Cơ quan ban hành"),
        ("place", "Địa danh"),
        ("signer_name", "Người ký"),
        ("signer_title", "Chức vụ người ký"),
    ):
        form.get_by_label(label, exact=True).fill(META[name])
    form.get_by_label("Ngày ban hành").fill(META["issued_on"])
    form.get_by_label("Thẩm quyền ký").select_option("KT.")
    form.get_by_label("Tệp văn bản (PDF hoặc bất kỳ)").set_input_files(
        files=[{"name": "qd-15.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7 portal issue 15"}]
    )
    form.get_by_role("button", name="Ký và ban hành").click()
    expect(page.get_by_role("heading", name="15/QĐ-UBND", exact=True)).to_be_visible()
    page.evaluate("window.__notReloaded = true")
    expect(page.locator("[data-doc-status]")).to_have_attribute("data-doc-status", "anchored", timeout=60_000)
    expect(page.locator("[data-proof='block']")).not_to_be_empty()
    assert page.evaluate("window.__notReloaded") is True  # it changed in place
    expect(page.locator(".history")).to_contain_text("Ban hành văn bản")
    screenshot(page, "agency-document-vi-desktop")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Tải mã QR (PNG)").click()
    qr = tmp_path / "qr.png"
    download_info.value.save_as(qr)
    assert qr.read_bytes().startswith(b"\x89PNG")

    page.goto(f"{server.base}/verify")
    page.get_by_role("tab", name="Tải ảnh").click()
    page.locator("#qr-image").set_input_files(str(qr))
    page.get_by_role("button", name="Kiểm tra ảnh").click()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "valid", timeout=30_000)


def test_clerk_revokes_through_the_portal_and_v_shows_revoked(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    issued = server.issue("16/QĐ-UBND", b"%PDF-1.7 to be revoked")
    server.wait_status(issued["id"], "anchored")
    page = new_page()
    sign_in_page(page, server)
    page.goto(f"{server.base}/agency/documents?q=16/QĐ")
    page.get_by_role("link", name="16/QĐ-UBND", exact=True).click()
    page.get_by_label("Lý do thu hồi").select_option("error")
    page.get_by_role("button", name="Thu hồi văn bản…").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text("Thu hồi văn bản số 16/QĐ-UBND?")  # the confirmation names the document
    screenshot(page, "agency-confirm-vi-desktop")
    assert server.document(issued["id"])["status"] == "anchored"  # nothing changed before the confirmation
    page.get_by_role("button", name="Thu hồi văn bản 16/QĐ-UBND").click()
    expect(page.locator("[data-doc-status]")).to_have_attribute("data-doc-status", "revoked", timeout=60_000)
    page.goto(issued["verify_url"])
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "revoked", timeout=30_000)


def test_portal_screenshots_vi_en_phone_desktop(server: Server, new_page: NewPage, screenshot: Shot) -> None:
    server.issue("17/QĐ-UBND", b"%PDF-1.7 for the screenshots")
    for lang in ("vi", "en"):
        for width, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page = new_page(**size)
            page.goto(f"{server.base}/agency/signin?lang={lang}")
            screenshot(page, f"agency-signin-{lang}-{width}")
            who = staff_of(server, role="manager")
            page.locator("#username").fill(who["username"])
            page.locator("#password").fill(who["password"])
            page.locator("form.form-card button[type=submit]").click()
            expect(page.locator(".counts")).to_be_visible()
            screenshot(page, f"agency-dashboard-{lang}-{width}")
            page.goto(f"{server.base}/agency/documents")
            expect(page.locator(".doc-table")).to_be_visible()
            screenshot(page, f"agency-documents-{lang}-{width}")
            page.locator(".doc-table a").first.click()
            expect(page.locator(".doc-number")).to_be_visible()
            screenshot(page, f"agency-document-{lang}-{width}")
            page.goto(f"{server.base}/agency/issue")
            screenshot(page, f"agency-issue-{lang}-{width}")
            page.goto(f"{server.base}/agency/import")
            screenshot(page, f"agency-import-{lang}-{width}")
            page.goto(f"{server.base}/agency/audit")
            expect(page.locator("h1")).to_be_visible()
            screenshot(page, f"agency-audit-{lang}-{width}")
