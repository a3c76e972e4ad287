"""The public pages as a person meets them: ``/`` and ``/verify`` in Vietnamese (default) and English (one click,
remembered), at 360 px and desktop width, with the security headers; axe-core (served from our own host, development
mode only) finds no serious or critical violation; a skipped check carrying a warning is shown above the checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import DESKTOP, PHONE, TIMEOUT, NewPage, Server

SIZES = {"phone": PHONE, "desktop": DESKTOP}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("path", ["/", "/verify"])
def test_public_pages_in_both_languages_and_sizes_are_accessible(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path], path: str, lang: str, size: str
) -> None:
    page = new_page(**SIZES[size])
    response = page.goto(f"{server.base}{path}?lang={lang}")
    assert response is not None and response.status == 200
    headers = response.headers
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert page.locator("html").get_attribute("lang") == lang
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]  # no sideways scrolling
    assert axe_violations(page) == []
    screenshot(page, f"{'home' if path == '/' else 'verify'}-{lang}-{size}")


def test_language_choice_is_remembered_and_the_link_keeps_the_fragment(server: Server, new_page: NewPage) -> None:
    doc = server.issue("401/QĐ-UBND", os.urandom(32))
    page = new_page()
    page.goto(f"{server.base}/v#{str(doc['verify_url']).split('#', 1)[1]}")
    expect(page.locator("[data-verdict]")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Xác thực văn bản")
    page.get_by_role("link", name="Switch to English").click()
    expect(page.locator("[data-verdict]")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Verify a document")
    assert page.url.endswith("#" + str(doc["verify_url"]).split("#", 1)[1])
    page.goto(f"{server.base}/")  # remembered: no ?lang= any more
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify documents and digital IDs")


def test_result_card_is_accessible_with_its_checks_open(server: Server, new_page: NewPage) -> None:
    doc = server.issue("402/QĐ-UBND", os.urandom(32))
    server.wait_status(str(doc["id"]), "anchored")
    for lang in ("vi", "en"):
        page = new_page(**PHONE)
        page.goto(f"{server.base}/v?lang={lang}#{str(doc['verify_url']).split('#', 1)[1]}")
        expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "valid")
        page.locator(".checks summary").click()
        assert axe_violations(page) == []


def _warned_report() -> dict[str, Any]:
    return {
        "verdict": "valid",
        "kind": "citizen_id",
        "checks": [
            {"name": "signature", "status": "valid", "code": "SIGNATURE_VALID", "message": "ok"},
            {
                "name": "audience",
                "status": "skipped",
                "code": "AUDIENCE_NOT_CHECKED",
                "message": "no audience was given to check: <b>https://bank.example</b> can replay it",
                "data": {"warning": "replay", "aud": "https://bank.example"},
            },
        ],
        "issuer": {"id": "ca-hcm", "name": "Công an <TP.HCM>"},
        "claims": {"full_name": "Nguyễn Thị Minh Khai", "age_over_18": True},
        "anchor": None,
    }


def test_card_shows_a_replay_warning_above_the_checks_and_never_renders_markup(
    server: Server, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(f"{server.base}/verify")
    html = page.evaluate(
        "async (report) => (await import('/static/verify/card.js')).renderReport(report).outerHTML",
        _warned_report(),
    )
    assert 'data-verdict="valid"' in html and 'data-kind="citizen_id"' in html
    warning = html.index('data-warning="AUDIENCE_NOT_CHECKED"')
    assert 'role="alert"' in html[warning - 80 : warning + 80]
    assert warning < html.index('data-check="signature"')  # above the list, not lost in it
    assert "dùng lại" in html and "Cảnh báo" in html
    assert "<b>" not in html and "&lt;b&gt;" in html and "Công an &lt;TP.HCM&gt;" in html  # text, never markup
    assert 'data-field="age_over_18">Có<' in html and 'data-field="full_name">Nguyễn Thị Minh Khai<' in html


def test_api_answers_carry_the_security_headers_and_vendor_files_are_an_allow_list(server: Server) -> None:
    r = httpx.post(f"{server.base}/v1/verify", json={"payload": "nonsense"}, timeout=TIMEOUT)
    assert r.status_code == 422 and r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    wasm = httpx.get(f"{server.base}/static/vendor/zxing-wasm/reader/zxing_reader.wasm", timeout=TIMEOUT)
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    for path in ("zxing-wasm/package.json", "../package.json", "solc/soljson.js", "axe-core/axe.js"):
        assert httpx.get(f"{server.base}/static/vendor/{path}", timeout=TIMEOUT).status_code == 404, path
