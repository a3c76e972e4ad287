"""Checking the document file too: it is hashed in the browser (WebCrypto) and only its SHA-256 is sent; the
signed file gives ``file_matches`` valid, an altered one makes the verdict ``invalid``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, NewPage, Server


def test_dropped_altered_file_gives_invalid_and_only_its_hash_is_sent(
    server: Server, new_page: NewPage, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    content = b"%PDF-1.7\n" + os.urandom(4096)
    doc = server.issue("301/QĐ-UBND", content)
    server.wait_status(str(doc["id"]), "anchored")
    signed, altered = tmp_path / "qd-301.pdf", tmp_path / "qd-301-sua.pdf"
    signed.write_bytes(content)
    altered.write_bytes(content.replace(b"%PDF-1.7", b"%PDF-1.6"))
    for lang, width in (("vi", 1280), ("en", PHONE["width"])):
        page = new_page(width=width)
        page.goto(f"{server.base}/v?lang={lang}#{str(doc['verify_url']).split('#', 1)[1]}")
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "valid")
        expect(card.locator('[data-check="file_matches"]')).to_have_attribute("data-status", "skipped")

        with page.expect_request("**/v1/verify") as sent:
            page.locator("#doc-file").set_input_files(str(signed))
        body = json.loads(sent.value.post_data or "{}")
        assert set(body) == {"payload", "sha256"} and body["sha256"] == doc["sha256"]
        expect(card.locator('[data-check="file_matches"]')).to_have_attribute("data-status", "valid")
        expect(page.locator("#file-status [data-sha256]")).to_have_text(str(doc["sha256"]))

        with page.expect_request("**/v1/verify") as sent:
            page.locator("#doc-file").set_input_files(str(altered))
        body = json.loads(sent.value.post_data or "{}")
        assert set(body) == {"payload", "sha256"} and body["sha256"] != doc["sha256"]  # the bytes never left
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "invalid")
        expect(card.locator('[data-check="file_matches"]')).to_have_attribute("data-status", "invalid")
        expect(card.locator('[data-check="signature"]')).to_have_attribute("data-status", "valid")
        card.locator("summary").click()
        screenshot(page, f"v-file-altered-{lang}-{'desktop' if width > PHONE['width'] else 'phone'}")
