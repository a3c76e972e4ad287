"""Browser tests: a real ``xacthuc serve --dev`` (embedded anvil, own data dir, free ports) and Debian's Chromium
driven by Playwright. Nothing leaves 127.0.0.1: every page's requests to another host are aborted and recorded, and
a test fails if any was attempted. Screenshots go to ``tests/web/screenshots/`` (gitignored); look at them.

Fixtures: ``server`` (session: the running service, its demo credentials and API helpers), ``browser`` (session:
Chromium), ``new_page(width=..., lang=...)`` (a fresh context and page, guarded), ``screenshot(page, name)``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from xacthuc.devchain import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("XACTHUC_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT = 30.0  # seconds an HTTP call may take before the test fails: a deadline, not a measurement
PHONE = {"width": 360, "height": 800}
DESKTOP = {"width": 1280, "height": 900}
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2026",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-11-20",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.anvil)


@dataclass
class Server:
    """``xacthuc serve --dev`` at ``base``; its demo credentials; helpers over its HTTP API."""

    base: str
    data_dir: Path
    credentials: dict[str, Any] = field(default_factory=dict)

    def api_key(self, agency: str = "ubnd-hcm") -> str:
        return next(str(a["api_key"]) for a in self.credentials["agencies"] if a["id"] == agency)

    def auth(self, agency: str = "ubnd-hcm") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key(agency)}"}

    def issue(self, number: str, content: bytes, agency: str = "ubnd-hcm", **meta: str) -> dict[str, Any]:
        r = httpx.post(
            f"{self.base}/v1/documents",
            data={**META, "number": number, **meta},
            files={"file": ("qd.pdf", content, "application/pdf")},
            headers=self.auth(agency),
            timeout=TIMEOUT,
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def document(self, document_id: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/v1/documents/{document_id}", timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_status(self, document_id: str, status: str, deadline_s: float = 60) -> dict[str, Any]:
        """Poll the document until its status is ``status`` (the worker anchors every 0.2 s here)."""
        deadline = time.monotonic() + deadline_s
        while True:
            doc = self.document(document_id)
            if doc["status"] == status:
                return doc
            assert time.monotonic() < deadline, f"{document_id} stayed {doc['status']}, not {status}"
            time.sleep(0.1)

    def revoke(self, document_id: str, reason: str = "annulled", replaced_by: str | None = None) -> None:
        body: dict[str, Any] = {"reason": reason}
        if replaced_by is not None:
            body["replaced_by"] = replaced_by
        r = httpx.post(
            f"{self.base}/v1/documents/{document_id}/revoke", json=body, headers=self.auth(), timeout=TIMEOUT
        )
        assert r.status_code in (200, 202), r.text

    def verify(self, payload: str) -> dict[str, Any]:
        r = httpx.post(f"{self.base}/v1/verify", json={"payload": payload}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return dict(r.json())


def _xacthuc(*args: str) -> list[str]:
    return [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]


@contextmanager
def serve(work: Path, *args: str, batch_interval: str = "0.2") -> Iterator[Server]:
    """``xacthuc serve --dev ARGS`` (as ``make run`` starts it) with its own data dir and ports, until ready; a leaf
    waits ``batch_interval`` seconds before its batch is cut."""
    port, anvil_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(work / "var"),
        XACTHUC_PORT=str(port),
        XACTHUC_ANVIL_PORT=str(anvil_port),
        XACTHUC_PUBLIC_URL=base,
        XACTHUC_BATCH_INTERVAL=batch_interval,
        XACTHUC_RATE_LIMITS="0",  # one address signs in and verifies all session long (tests/conftest.py)
    )
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        _xacthuc("serve", "--dev", *args),
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (work / "serve.log").read_text("utf-8", "replace")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "xacthuc serve --dev did not get ready"
            time.sleep(0.2)
        creds = json.loads((work / "var" / "dev-credentials.json").read_text(encoding="utf-8"))
        yield Server(base, work / "var", creds)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The city service the browser tests use: a fresh ``xacthuc serve --dev``, anchoring every 0.2 s."""
    with serve(tmp_path_factory.mktemp("web-server")) as s:
        yield s


@pytest.fixture(scope="session")
def other_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Another city with no anchoring worker: its documents stay pending there, and are untrusted at ``server``."""
    with serve(tmp_path_factory.mktemp("web-other-city"), "--no-worker") as s:
        yield s


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install Debian's chromium (scripts/test.sh does)")
    with sync_playwright() as p:
        yield p


def launch(playwright: Playwright, *extra_args: str) -> Browser:
    """Debian's Chromium, headless, quiet (no background traffic), never a downloaded browser."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = launch(playwright)
    try:
        yield b
    finally:
        b.close()


@dataclass
class Guard:
    """What a page tried that it must not: requests to another host, CSP violations, script errors."""

    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.foreign == [], f"requests left 127.0.0.1: {self.foreign}"
        assert self.errors == [], f"the page reported errors: {self.errors}"


def guard_page(page: Page, guard: Guard) -> None:
    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname
        if host == "127.0.0.1":
            r.continue_()
        else:
            guard.foreign.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    page.on("pageerror", lambda exc: guard.errors.append(f"pageerror: {exc}"))

    def console(msg: Any) -> None:
        text = msg.text
        if msg.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            guard.errors.append(f"console: {text}")

    page.on("console", console)


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """``new_page(width=360, height=800, lang="en")``: a fresh context (own cookies) whose requests are guarded;
    at the end, no request left 127.0.0.1 and no CSP violation or script error happened."""
    opened: list[tuple[Any, Guard]] = []

    def make(width: int = DESKTOP["width"], height: int = DESKTOP["height"], **context_args: Any) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, **context_args)
        page = context.new_page()
        guard = Guard()
        guard_page(page, guard)
        opened.append((context, guard))
        return page

    yield make
    for context, _ in opened:
        context.close()
    for _, guard in opened:
        guard.check()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, "verify-valid-vi-phone")``: a full-page PNG under tests/web/screenshots/."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
