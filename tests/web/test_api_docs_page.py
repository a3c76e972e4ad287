"""``/docs`` (Swagger UI from our own static files) works in Chromium under the site's CSP: no violation, no console
error, no request off 127.0.0.1 (the ``new_page`` guard), and it shows every operation of ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import TIMEOUT, NewPage, Server

# Every CSP violation, as the page itself sees it (console messages can be worded differently between versions).
_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
# Each operation Swagger UI lists: its method word and its path (``data-path`` is Swagger UI's own attribute).
_SHOWN = """
() => [...document.querySelectorAll(".opblock")].map((block) => [
  block.querySelector(".opblock-summary-method").textContent.trim(),
  block.querySelector(".opblock-summary-path").dataset.path,
])
"""
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _operations(server: Server) -> set[tuple[str, str]]:
    schema = httpx.get(f"{server.base}/openapi.json", timeout=TIMEOUT).json()
    return {(m.upper(), p) for p, item in schema["paths"].items() for m in item if m in _METHODS}


def _open_docs(page: Page, server: Server, console: list[str]) -> None:
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.context.add_init_script(_VIOLATIONS)
    page.goto(f"{server.base}/docs")
    expect(page.locator(".opblock").first).to_be_visible()


def test_api_docs_page_shows_every_operation_with_no_csp_violation_or_console_error(
    server: Server, new_page: NewPage, screenshot: Callable[[Page, str], Path]
) -> None:
    console: list[str] = []
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _open_docs(page, server, console)
    expect(page.get_by_role("heading", name="xacthuc", exact=False).first).to_be_visible()
    shown = {(str(method).upper(), str(path)) for method, path in page.evaluate(_SHOWN)}
    wanted = _operations(server)
    assert ("POST", "/v1/documents") in wanted and ("POST", "/v1/verify") in wanted
    assert shown == wanted

    # One operation opened: its parameters, request body and responses render too (Swagger UI builds them on demand).
    verify = page.locator(".opblock-post").filter(has=page.locator('[data-path="/v1/verify"]')).first
    verify.locator(".opblock-summary").click()
    expect(verify.locator('tr.response[data-code="200"]')).to_be_visible()
    expect(verify.locator('tr.response[data-code="422"]')).to_be_visible()
    expect(verify.locator(".opblock-body .model-example, .opblock-body .body-param").first).to_be_visible()
    screenshot(page, "api-docs-desktop")

    violations: list[Any] = page.evaluate("window.__violations")
    assert violations == []
    assert console == []
    assert requests and all(u.startswith(f"{server.base}/") for u in requests), requests
    assert f"{server.base}/static/docs/swagger-ui-bundle.js" in requests
    assert f"{server.base}/openapi.json" in requests
