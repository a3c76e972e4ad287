"""``/verify`` reads a QR code three ways: from a (fake) camera, continuously, with zxing-wasm from our own static
files; from an uploaded picture; and says so plainly when the camera may not be used. A fake camera plays a y4m
video made from one of our own QR codes (``--use-file-for-fake-video-capture``)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.web.conftest import PHONE, TIMEOUT, Guard, NewPage, Server, guard_page, launch

WIDTH, HEIGHT = 640, 480


def qr_png(server: Server, number: str) -> tuple[dict[str, object], bytes]:
    doc = server.issue(number, os.urandom(32) + number.encode())
    server.wait_status(str(doc["id"]), "anchored")
    r = httpx.get(f"{server.base}/v1/documents/{doc['id']}/qr.png", timeout=TIMEOUT)
    assert r.status_code == 200
    return doc, r.content


def y4m_of(png: bytes, path: Path) -> Path:
    """One 640x480 frame (4:2:0) with the QR code in the middle on white, as Chromium's fake camera plays it."""
    qr = Image.open(io.BytesIO(png)).convert("L")
    side = 400
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(qr, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    ycbcr = frame.convert("RGB").convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (WIDTH // 2, HEIGHT // 2)
    body = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + body)
    return path


@pytest.fixture(scope="module")
def camera(
    server: Server, playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Browser, dict[str, object]]]:
    doc, png = qr_png(server, "201/QĐ-UBND")
    video = y4m_of(png, tmp_path_factory.mktemp("camera") / "qr.y4m")
    browser = launch(
        playwright,
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        yield browser, doc
    finally:
        browser.close()


def test_camera_scan_of_our_own_qr_code_gives_valid(
    server: Server, camera: tuple[Browser, dict[str, object]], screenshot: Callable[[Page, str], Path]
) -> None:
    browser, _ = camera
    context = browser.new_context(viewport=PHONE, permissions=["camera"])
    page = context.new_page()
    guard = Guard()
    guard_page(page, guard)
    wasm: list[str] = []
    page.on("request", lambda r: wasm.append(r.url) if r.url.endswith(".wasm") else None)
    try:
        page.goto(f"{server.base}/verify")
        page.get_by_role("button", name="Bật máy ảnh").click()
        card = page.locator("[data-verdict]")
        expect(card).to_have_attribute("data-verdict", "valid", timeout=30_000)
        expect(card.locator('[data-field="number"]')).to_have_text("201/QĐ-UBND")
        assert wasm == [f"{server.base}/static/vendor/zxing-wasm/reader/zxing_reader.wasm"]
        screenshot(page, "verify-scan-valid-vi-phone")
    finally:
        context.close()
    guard.check()


def test_camera_refused_says_what_to_do(
    server: Server, camera: tuple[Browser, dict[str, object]], screenshot: Callable[[Page, str], Path]
) -> None:
    browser, _ = camera
    context = browser.new_context(viewport=PHONE)  # no camera permission: the browser refuses it
    page = context.new_page()
    guard = Guard()
    guard_page(page, guard)
    try:
        page.goto(f"{server.base}/verify?lang=en")
        page.get_by_role("button", name="Start the camera").click()
        status = page.locator("#scan-status")
        expect(status).to_have_attribute("data-problem", "denied")
        expect(status).to_contain_text("may not use the camera")
        expect(page.get_by_role("button", name="Start the camera")).to_be_visible()
        screenshot(page, "verify-camera-denied-en-phone")
    finally:
        context.close()
    guard.check()


def test_uploaded_photo_of_a_qr_code_gives_valid(
    server: Server, new_page: NewPage, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    _, png = qr_png(server, "202/QĐ-UBND")
    photo = Image.new("RGB", (1200, 900), (236, 232, 220))  # a "photo": the code small, off-centre, on paper
    photo.paste(Image.open(io.BytesIO(png)).convert("RGB").resize((420, 420)), (640, 300))
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=88)
    page = new_page()
    page.goto(f"{server.base}/verify")
    page.get_by_role("tab", name="Tải ảnh").click()
    page.get_by_label("Ảnh có mã QR").set_input_files(str(path))
    page.get_by_role("button", name="Kiểm tra ảnh").click()
    card = page.locator("[data-verdict]")
    expect(card).to_have_attribute("data-verdict", "valid")
    expect(card.locator('[data-field="number"]')).to_have_text("202/QĐ-UBND")
    screenshot(page, "verify-upload-valid-vi-desktop")
