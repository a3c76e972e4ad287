"""API errors on the pages speak the page's language: the issue form's live check and the verifier send the page's
language as ``Accept-Language``, and the API's catalogue (keys/error_messages.py) answers in it. Vietnamese on a
Vietnamese page, English on an English one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, NewPage, Server
from tests.web.test_agency_portal import sign_in_page

Shot = Callable[[Page, str], Path]


def test_issue_forms_live_error_is_vietnamese_on_a_vietnamese_page_and_english_on_an_english_one(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    page = new_page(**PHONE)
    sign_in_page(page, server)
    page.goto(f"{server.base}/agency/issue")
    form = page.locator("#issue-form")
    form.get_by_label("Số, ký hiệu").fill("15/XYZ")
    number_error = page.locator("#e-number")
    expect(number_error).to_contain_text(
        "“XYZ” không phải là tên loại văn bản theo Nghị định 30/2020/NĐ-CP. Các tên loại gần nhất:"
    )
    expect(number_error).not_to_contain_text("is not")
    form.get_by_label("Ngày ban hành").fill("2099-01-01")
    expect(page.locator("#e-issued_on")).to_have_text("Ngày ban hành không được sau ngày hôm nay.")
    form.get_by_label("Trích yếu").fill("x")
    form.get_by_label("Trích yếu").fill("")
    expect(page.locator("#e-title")).to_have_text("Trích yếu là thông tin bắt buộc, chưa được nhập.")
    screenshot(page, "agency-issue-live-errors-vi-phone")

    page.goto(f"{server.base}/agency/issue?lang=en")
    form = page.locator("#issue-form")
    form.get_by_label("Number and symbol").fill("15/XYZ")
    expect(page.locator("#e-number")).to_contain_text("'XYZ' is not a document type of Decree 30/2020/NĐ-CP")
    form.get_by_label("Date of issue").fill("2099-01-01")
    expect(page.locator("#e-issued_on")).to_have_text("issued_on: is in the future")
    screenshot(page, "agency-issue-live-errors-en-phone")


def test_verify_page_shows_an_api_error_in_the_pages_language(
    server: Server, new_page: NewPage, tmp_path: Path, screenshot: Shot
) -> None:
    not_a_picture = tmp_path / "qr.png"
    not_a_picture.write_bytes(b"this is not a picture")
    page = new_page(**PHONE)

    page.goto(f"{server.base}/verify")
    page.get_by_role("tab", name="Tải ảnh").click()
    page.get_by_label("Ảnh có mã QR").set_input_files(str(not_a_picture))
    page.get_by_role("button", name="Kiểm tra ảnh").click()
    error = page.locator('[data-error="IMAGE_INVALID"]')
    expect(error).to_have_text("Không đọc được ảnh (định dạng không hỗ trợ, ảnh bị cắt cụt hoặc hỏng).")
    screenshot(page, "verify-error-vi-phone")

    page.goto(f"{server.base}/verify?lang=en")
    page.get_by_role("tab", name="Upload").click()
    page.get_by_label("Picture with a QR code").set_input_files(str(not_a_picture))
    page.get_by_role("button", name="Check the picture").click()
    expect(page.locator('[data-error="IMAGE_INVALID"]')).to_contain_text("image cannot be read")
