"""A stamped PDF dropped alone on /verify (issue 13): the page finds its payload and original byte range by itself
(stamped-pdf.js, no PDF library), hashes only that range with WebCrypto and sends the payload, the hash and the
layout: valid with ``file_matches`` valid; the same PDF with an update appended after the stamp is invalid with
``FILE_UPDATED_AFTER_STAMP``. The file never leaves the browser."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.pdf_samples import sample_pdf
from tests.web.conftest import PHONE, NewPage, Server


def test_a_stamped_pdf_dropped_alone_verifies_in_the_browser(
    server: Server, new_page: NewPage, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    original = sample_pdf(pages=2, title="QUYET DINH 302/QD-UBND")
    doc = server.issue("302/QĐ-UBND", original)
    server.wait_status(str(doc["id"]), "anchored")
    r = httpx.get(f"{server.base}/v1/documents/{doc['id']}/stamped.pdf", timeout=60)
    assert r.status_code == 200
    stamped, edited = tmp_path / "qd-302.pdf", tmp_path / "qd-302-sua.pdf"
    stamped.write_bytes(r.content)
    edited.write_bytes(r.content + b"1 0 obj\n<< >>\nendobj\nxref\n0 1\n0000000000 65535 f \nstartxref\n0\n%%EOF\n")
    for lang, width in (("vi", 1280), ("en", PHONE["width"])):
        page = new_page(width=width)
        page.goto(f"{server.base}/verify?lang={lang}")
        with page.expect_request("**/v1/verify") as sent:
            page.locator("#doc-file").set_input_files(str(stamped))
        body = json.loads(sent.value.post_data or "{}")
        assert set(body) == {"payload", "sha256", "pdf_stamp"}  # no file bytes
        assert body["sha256"] == doc["sha256"] == hashlib.sha256(original).hexdigest()
        assert body["pdf_stamp"] == {
            "original_length": len(original),
            "stamp_end": len(r.content),
            "length": len(r.content),
        }
        assert str(doc["verify_url"]).endswith(body["payload"])
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "valid")
        expect(card.locator('[data-check="file_matches"]')).to_have_attribute("data-status", "valid")
        expect(page.locator("#file-status [data-stamped]")).to_have_text(str(doc["sha256"]))
        screenshot(page, f"verify-stamped-pdf-{lang}-{'desktop' if width > PHONE['width'] else 'phone'}")

        with page.expect_request("**/v1/verify") as sent:
            page.locator("#doc-file").set_input_files(str(edited))
        assert json.loads(sent.value.post_data or "{}")["pdf_stamp"]["length"] == edited.stat().st_size
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "invalid")
        check = card.locator('[data-check="file_matches"]')
        expect(check).to_have_attribute("data-code", "FILE_UPDATED_AFTER_STAMP")
