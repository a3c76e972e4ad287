"""The register of offices and delegations in the portal (``/agency/offices``), in Chromium: a manager appoints, sees
the entry pending and then anchored with its block, delegates and revokes; a form error is said in Vietnamese; the
issue form lists who may sign today and a signer the register does not cover is refused with the refusal's message;
a clerk reads the register but gets 403 on every change even with a valid CSRF token; every change is audited with
ids only; axe clean at phone width, with a screenshot.

Its own server: a register makes ubnd-hcm refuse the signers the other browser tests issue with, and its leaves wait
3 s before their batch is cut (``batch_interval``), so the state "pending" is on the page for certain before the
worker anchors it (a 0.2 s batch could be anchored before the redirected page is drawn)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, TIMEOUT, NewPage, Server, serve
from tests.web.test_agency_security import sign_in, staff_of
from tests.web.test_verify_pages import axe_violations

Shot = Callable[[Page, str], Path]
AGENCY = "ubnd-hcm"
ANCHORED_WITHIN = 90_000  # ms: a deadline for the worker, not a measurement


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web-offices"), batch_interval="3") as s:
        yield s


def sign_in_page(page: Page, server: Server, role: str) -> dict[str, str]:
    who = staff_of(server, agency=AGENCY, role=role)
    page.goto(f"{server.base}/agency/signin?lang=vi")
    page.locator("#username").fill(who["username"])
    page.locator("#password").fill(who["password"])
    page.locator("form.form-card button[type=submit]").click()
    expect(page.locator(".portal-bar")).to_be_visible()
    return who


def see_pending_then_anchored(page: Page, seq: int) -> None:
    state = page.locator(f"#entry-{seq}")
    expect(state).to_have_attribute("data-entry-status", "pending")
    expect(state.locator(".status-text")).to_have_text("Chờ ghi sổ cái")
    expect(state).to_have_attribute("data-entry-status", "anchored", timeout=ANCHORED_WITHIN)  # offices.js polls
    expect(state.locator(".entry-anchor")).to_contain_text("khối ")
    page.reload()  # and the server says so too
    expect(page.locator(f"#entry-{seq}")).to_have_attribute("data-entry-status", "anchored")


def entry_of(page: Page) -> int:
    found = re.search(r"#entry-(\d+)$", page.url)
    assert found, page.url
    return int(found.group(1))


def audit(server: Server, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.base}/v1/audit",
        params=params,
        headers={"Authorization": f"Bearer {server.credentials['admin_token']}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def test_manager_keeps_the_register_and_issuing_follows_it(city: Server, new_page: NewPage, screenshot: Shot) -> None:
    page = new_page(**PHONE)
    sign_in_page(page, city, "manager")
    page.get_by_role("navigation", name="Cổng cơ quan").get_by_role("link", name="Chức danh và ủy quyền").click()
    expect(page.get_by_role("heading", name="Chức danh và ủy quyền", exact=True)).to_be_visible()
    expect(page.locator("#no-register")).to_be_visible()
    expect(page.locator("#anchoring-rule")).to_contain_text("chỉ có giá trị với các văn bản được ghi lên sổ cái sau")

    # appoint the Chủ tịch: pending, then anchored with its block and time
    form = page.locator("#office-form")
    form.get_by_label("Chức danh", exact=True).fill("Chủ tịch")
    form.get_by_label("Họ và tên người giữ chức danh").fill("Nguyễn Văn An")
    form.get_by_label("Từ ngày").fill("2023-01-01")
    form.get_by_label("Người đứng đầu tập thể (ký TM.)").check()
    form.get_by_role("button", name="Ghi bổ nhiệm").click()
    head = entry_of(page)
    row = page.locator(f'#office-table tr[data-office-id="o{head}"]')
    expect(row).to_contain_text("Nguyễn Văn An")
    expect(row).to_contain_text("01/01/2023")
    see_pending_then_anchored(page, head)

    # a TUQ. without its authorising document: refused by the domain, said in Vietnamese under the field
    form = page.locator("#delegation-form")
    form.get_by_label("Thể thức").select_option("TUQ.")
    form.get_by_label("Họ và tên người được giao ký").fill("Hoàng Thị Giang")
    form.get_by_label("Chức vụ của người được giao ký").fill("Trưởng phòng Nội vụ")
    form.get_by_label("Ký cho chức danh").select_option(f"o{head}")
    form.get_by_label("Loại văn bản").fill("QĐ")
    form.get_by_label("Từ ngày").fill("2024-01-01")
    form.get_by_label("Đến ngày").fill("2030-06-30")
    form.get_by_role("button", name="Ghi việc giao ký").click()
    error = page.locator("#delegation-e-authorising_number")
    expect(error).to_have_text("Giao ký thừa ủy quyền (TUQ.) phải ghi số văn bản ủy quyền.")
    expect(page.locator("#delegation-authorising_number")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#delegation-delegate")).to_have_value("Hoàng Thị Giang")  # what was typed stays
    assert axe_violations(page) == []
    screenshot(page, "agency-offices-error-vi-phone")

    # with it: the delegation is recorded, then anchored
    page.locator("#delegation-form").get_by_label("Số văn bản giao ký").fill("15/QĐ-UBND")
    page.locator("#delegation-form").get_by_role("button", name="Ghi việc giao ký").click()
    delegation = entry_of(page)
    drow = page.locator(f'#delegation-table tr[data-delegation-id="d{delegation}"]')
    expect(drow).to_contain_text("TUQ.")
    expect(drow).to_contain_text("15/QĐ-UBND")
    expect(drow).to_contain_text("Chủ tịch (Nguyễn Văn An")
    see_pending_then_anchored(page, delegation)

    # the issue form lists who may sign today; a signer the register does not have is refused, said in Vietnamese
    page.goto(f"{city.base}/agency/issue")
    hint = page.locator("#signers-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Chủ tịch: Nguyễn Văn An (TM.)")
    expect(hint).to_contain_text("TUQ. Trưởng phòng Nội vụ: Hoàng Thị Giang [QĐ]")
    page.locator("#f-number").fill("77/QĐ-UBND")
    page.locator("#f-title").fill("Về việc thử sổ chức danh")
    page.locator("#f-place").fill("Thành phố Hồ Chí Minh")
    page.locator("#f-signer_name").fill("Trần Văn Không")
    page.locator("#f-signer_title").fill("Phó Chủ tịch")
    page.locator("#f-signing_form").select_option("KT.")
    page.locator("#f-file").set_input_files(
        files=[{"name": "qd.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 so"}]
    )
    page.locator("#issue-form button[type=submit]").click()
    refusal = page.locator(".error-box")
    expect(refusal).to_contain_text("Theo sổ chức danh của cơ quan, người ký không giữ chức danh này vào ngày ký.")
    expect(refusal).to_contain_text("SIGNER_NOT_IN_OFFICE")

    # revoke the delegation
    page.goto(f"{city.base}/agency/offices")
    form = page.locator("#revoke-form")
    form.get_by_label("Việc giao ký").select_option(f"d{delegation}")
    form.get_by_label("Từ ngày").fill("2025-01-01")
    form.get_by_role("button", name="Ghi thu hồi").click()
    revoked = entry_of(page)
    drow = page.locator(f'#delegation-table tr[data-delegation-id="d{delegation}"]')
    expect(drow).to_contain_text("Thu hồi từ 01/01/2025")
    see_pending_then_anchored(page, revoked)
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    screenshot(page, "agency-offices-vi-phone")

    # audited, with ids only: no name of the register in the log's details
    who = staff_of(city, agency=AGENCY, role="manager")
    logged = audit(city, agency_id=AGENCY, actor=f"staff:{who['username']}")
    by_action = {e["action"]: e for e in logged}
    assert by_action["office_added"]["detail"]["office"] == f"o{head}"
    assert by_action["delegation_added"]["detail"]["delegation"] == f"d{delegation}"
    assert by_action["delegation_revoked"]["detail"] == {
        "entry": revoked,
        "leaf": by_action["delegation_revoked"]["detail"]["leaf"],
        "delegation": f"d{delegation}",
    }
    assert "Nguyễn Văn An" not in str(logged) and "Hoàng Thị Giang" not in str(logged)


def test_a_clerk_reads_the_register_but_cannot_change_it(city: Server, new_page: NewPage) -> None:
    page = new_page(**PHONE)
    sign_in_page(page, city, "clerk")
    page.goto(f"{city.base}/agency/offices")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#office-form")).to_have_count(0)
    assert axe_violations(page) == []

    clerk = staff_of(city, agency=AGENCY, role="clerk")
    client = sign_in(city, clerk["username"], clerk["password"])
    shown = client.get("/agency/offices")
    assert shown.status_code == 200
    found = re.search(r'name="csrf-token" content="([^"]+)"', shown.text)
    assert found, "no CSRF token on the page"
    csrf = found.group(1)
    posts = {
        "/agency/offices": {"title": "Chủ tịch", "holder": "Kẻ Mạo Danh", "from": "2020-01-01", "kind": "head"},
        "/agency/offices/end": {"office": "o1", "until": "2020-01-02"},
        "/agency/offices/delegations": {
            "form": "TL.",
            "delegate": "Kẻ Mạo Danh",
            "delegate_title": "Chánh Văn phòng",
            "from": "2020-01-01",
        },
        "/agency/offices/delegations/revoke": {"delegation": "d2", "from": "2020-01-01"},
    }
    before = httpx.get(f"{city.base}/v1/agencies/{AGENCY}/offices", timeout=TIMEOUT).json()["entries"]
    for path, data in posts.items():
        r = client.post(path, data={"csrf_token": csrf, **data})
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
    after = httpx.get(f"{city.base}/v1/agencies/{AGENCY}/offices", timeout=TIMEOUT).json()["entries"]
    assert after == before  # nothing written
