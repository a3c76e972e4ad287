"""What bench/bench_pages.py relies on, kept working by a test (speed itself is measured there, never asserted):
``/verify`` loads its QR reader (zxing-wasm, from our host) before the camera is asked for and marks it ready, and
one run of the bench's own measurement gives every figure, with the verdicts it expects."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Playwright

from bench import bench_pages
from tests.web.conftest import TIMEOUT, NewPage, Server, launch
from xacthuc.web.assets import STATIC_DIR

_IMPORT = re.compile(r'^import [^;]*? from "(\./[\w-]+\.js)";', re.MULTILINE)
_PRELOAD = re.compile(r'<link rel="modulepreload" href="([^"]+)">')
_READER = ["/static/vendor/zxing-wasm/es/reader/index.js", "/static/vendor/zxing-wasm/es/share.js"]


def _imported(entry: str) -> set[str]:
    """The page's own modules: ``entry`` and everything it imports statically, as URLs under /static/verify/."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _IMPORT.findall((STATIC_DIR / "verify" / name).read_text(encoding="utf-8"))
    return {f"/static/verify/{n.removeprefix('./')}" for n in seen}


@pytest.mark.parametrize(
    ("path", "entry", "extra"), [("/verify", "verify-page.js", _READER), ("/v", "link-page.js", [])]
)
def test_pages_preload_exactly_the_modules_they_import(server: Server, path: str, entry: str, extra: list[str]) -> None:
    html = httpx.get(f"{server.base}{path}", timeout=TIMEOUT).text
    preloaded = _PRELOAD.findall(html)
    assert len(preloaded) == len(set(preloaded))
    assert set(preloaded) == _imported(entry) | set(extra)
    for url in preloaded:
        assert httpx.get(f"{server.base}{url}", timeout=TIMEOUT).status_code == 200, url


def test_verify_page_loads_the_qr_reader_before_the_camera_is_started(server: Server, new_page: NewPage) -> None:
    page = new_page()
    wasm: list[str] = []
    page.on("request", lambda r: wasm.append(r.url) if r.url.endswith(".wasm") else None)
    page.goto(f"{server.base}/verify")
    page.wait_for_function("() => performance.getEntriesByName('xacthuc:reader-ready').length === 1")
    assert wasm == [f"{server.base}/static/vendor/zxing-wasm/reader/zxing_reader.wasm"]
    assert page.locator("#scan-video").evaluate("v => v.srcObject") is None  # the camera is not opened by it


def test_page_bench_measures_every_figure_in_one_run(server: Server, playwright: Playwright, tmp_path: Path) -> None:
    doc = server.issue("9301/QĐ-UBND", os.urandom(32))  # a number no other browser test uses
    server.wait_status(str(doc["id"]), "anchored")
    png = httpx.get(f"{server.base}/v1/documents/{doc['id']}/qr.png", timeout=TIMEOUT).content
    video = bench_pages.y4m_of(png, tmp_path / "qr.y4m")
    browser = launch(playwright, "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}")
    try:
        samples = bench_pages.measure(browser, server.base, str(doc["verify_url"]), 1, True)
    finally:
        browser.close()
    assert [s["verdict"] for k in ("scan", "link_cold", "link_warm") for s in samples[k]] == ["valid"] * 3
    figures = {
        "verify_cold": samples["verify_cold"][0]["usable_ms"],
        "verify_warm": samples["verify_warm"][0]["usable_ms"],
        "reader_ready": samples["verify_cold"][0]["reader_ready_ms"],
        "scan": samples["scan"][0]["click_to_verdict_ms"],
        "in_view": samples["scan"][0]["in_view_to_verdict_ms"],
        "link": samples["link_cold"][0]["verdict_ms"],
    }
    assert all(isinstance(v, float | int) and v > 0 for v in figures.values()), figures
    assert figures["verify_cold"] >= figures["reader_ready"]


@pytest.mark.parametrize(("size", "p90"), [(1, 1.0), (2, 2.0), (9, 9.0), (10, 9.0), (11, 10.0), (20, 18.0)])
def test_p90_is_the_nearest_rank(size: int, p90: float) -> None:
    figures = bench_pages.stats([float(i) for i in range(size, 0, -1)])
    assert figures["p90_ms"] == p90
    assert figures["median_ms"] == (size + 1) / 2
