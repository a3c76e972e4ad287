"""The portal's remaining flows in Chromium: superseding a document (the confirmation names both documents; ``/v``
of the old one then shows it superseded with the replacement's number), a bulk import whose progress bar reaches the
end with a refused line shown with its CSV line number, the A4 print view (one page, the QR code and its caption),
and the issuing answer's notices (QD stored as QĐ; the same number and file answered as the existing document) shown
on the document page after issuing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import META, PHONE, NewPage, Server
from tests.web.test_agency_portal import sign_in_page

Shot = Callable[[Page, str], Path]


def test_supersede_through_the_portal_names_both_and_v_shows_the_replacement(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    old = server.issue("701/QĐ-UBND", b"%PDF-1.7 superseded in the portal")
    new = server.issue("702/QĐ-UBND", b"%PDF-1.7 the replacement")
    server.wait_status(str(old["id"]), "anchored")
    server.wait_status(str(new["id"]), "anchored")
    page = new_page()
    sign_in_page(page, server)
    page.goto(f"{server.base}/agency/documents/{old['id']}")
    page.get_by_label("Số, ký hiệu hoặc mã của văn bản thay thế").fill("702/QĐ-UBND")  # by number, not only id
    page.get_by_role("button", name="Thay thế bằng văn bản khác…").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text("701/QĐ-UBND")
    expect(question).to_contain_text("702/QĐ-UBND")  # both documents named
    screenshot(page, "agency-confirm-supersede-vi-desktop")
    assert server.document(str(old["id"]))["status"] == "anchored"  # nothing changed before the confirmation
    page.get_by_role("button", name="Thay thế văn bản 701/QĐ-UBND").click()
    expect(page.locator(".doc-status [data-doc-status]")).to_have_attribute(
        "data-doc-status", "superseded", timeout=60_000
    )
    expect(page.locator("#proof .notice")).to_contain_text("702/QĐ-UBND")
    expect(page.locator(".history li").first).to_have_attribute("data-action", "document_superseded")
    page.goto(f"{server.base}/agency/documents/{new['id']}")
    expect(page.locator(".doc-replaces")).to_contain_text("701/QĐ-UBND")  # the replacement names what it replaced
    page.goto(str(old["verify_url"]))
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "superseded", timeout=30_000)
    expect(card.locator('[data-field="replacement"]')).to_have_text("702/QĐ-UBND")


def _csv(rows: list[dict[str, str]]) -> bytes:
    header = [*META, "file"]
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(f'"{row[h]}"' for h in header))
    return ("\n".join(lines) + "\n").encode()


def test_bulk_import_runs_to_the_end_and_shows_a_refused_line(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    rows = [{**META, "number": f"{800 + i}/QĐ-UBND", "file": f"cv-{i}.pdf"} for i in range(25)]
    rows[5]["number"] = "805/XYZ"  # CSV line 7 (the header is line 1): an unknown type, refused
    files = [
        {"name": f"cv-{i}.pdf", "mimeType": "application/pdf", "buffer": f"%PDF-1.7 import {i}".encode()}
        for i in range(25)
    ]
    page = new_page()
    sign_in_page(page, server)
    page.goto(f"{server.base}/agency/import")
    page.get_by_label("Tệp CSV").set_input_files(
        files=[{"name": "archive.csv", "mimeType": "text/csv", "buffer": _csv(rows)}]
    )
    page.get_by_label("Các tệp văn bản").set_input_files(files=files)
    page.get_by_role("button", name="Bắt đầu nhập").click()
    bar = page.locator("#import-bar")
    expect(bar).to_have_attribute("max", "25")
    expect(page.locator("#import-status")).to_contain_text("Đã xong", timeout=60_000)
    assert page.evaluate("document.getElementById('import-bar').value") == 25  # the bar reached the end
    refused = page.locator(".import-failed")
    expect(refused).to_have_count(1)
    expect(refused).to_have_attribute("data-row", "7")
    expect(refused).to_contain_text("Dòng 7")
    expect(refused).to_have_attribute("data-code", "DOC_SYMBOL_UNKNOWN")
    expect(refused).to_contain_text("không phải là tên loại văn bản")  # the page's language, not the API's English
    expect(page.locator("#import-status")).to_contain_text("Đã ban hành: 24")
    expect(page.locator("#import-result li:not(.import-failed)")).to_have_count(24)
    screenshot(page, "agency-import-done-vi-desktop")
    page.goto(f"{server.base}/agency/documents?q=824/QĐ")
    # after the refused line, still issued
    expect(page.get_by_role("link", name="824/QĐ-UBND", exact=True)).to_be_visible()


def test_print_view_places_the_qr_and_caption_on_one_a4_page(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    doc = server.issue("711/QĐ-UBND", b"%PDF-1.7 printed")
    for lang, size in (("vi", {}), ("en", PHONE)):
        page = new_page(**size)
        sign_in_page(page, server)
        page.goto(f"{server.base}/agency/documents/{doc['id']}/print?lang={lang}")
        qr = page.locator(".stamp img")
        expect(qr).to_be_visible()
        assert page.evaluate("document.querySelector('.stamp img').naturalWidth") > 0  # the QR code loaded
        expect(page.locator(".caption")).to_contain_text("711/QĐ-UBND")
        screenshot(page, f"agency-print-{lang}-{'phone' if size else 'desktop'}")
    page.emulate_media(media="print")
    expect(page.locator(".screen-only")).to_be_hidden()
    pdf = page.pdf(prefer_css_page_size=True)
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page>") == 1  # one A4 sheet
    assert re.search(rb"/MediaBox \[0 0 59[45][.0-9]* 84[12]", pdf)  # A4: 595 x 842 points


def test_issuing_notices_are_shown_on_the_document_page(server: Server, new_page: NewPage) -> None:
    page = new_page()
    sign_in_page(page, server)
    content = b"%PDF-1.7 typed with QD"
    for attempt in (1, 2):
        page.goto(f"{server.base}/agency/issue")
        form = page.locator("#issue-form")
        form.get_by_label("Số, ký hiệu").fill("721/QD-UBND")  # QD typed without the Vietnamese letter
        for name in ("title", "issuing_body", "place", "signer_name", "signer_title", "issued_on"):
            form.locator(f"#f-{name}").fill(META[name])
        form.locator("#f-file").set_input_files(
            files=[{"name": "qd-721.pdf", "mimeType": "application/pdf", "buffer": content}]
        )
        form.get_by_role("button", name="Ký và ban hành").click()
        expect(page.get_by_role("heading", name="721/QĐ-UBND", exact=True)).to_be_visible()  # stored as QĐ
        notices = page.locator("#issue-notices")
        expect(notices.locator('[data-notice="DOC_NUMBER_NORMALISED"]')).to_contain_text("QĐ")
        if attempt == 2:  # the same number and file again: the existing document, said so
            expect(notices.locator('[data-notice="DOC_ALREADY_ISSUED"]')).to_be_visible()
    page.reload()
    expect(page.locator("#issue-notices")).to_have_count(0)  # shown once
