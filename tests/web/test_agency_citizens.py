"""The identity agency's side of the portal in Chromium: a clerk of the demo identity agency (ca-hcm) registers a
citizen (the CCCD checks said in the page's language), finds the citizen by name in a list that shows only the last
4 digits of the number, and creates a wallet offer: the QR of the /wallet link, the link, the 6-digit transaction
code shown once with the instruction to say it, and a countdown to its expiry; the offer is audited without the code,
the name or the number. A clerk of a documents-only agency (ubnd-hcm) sees no such menu and gets 403. axe clean at
phone width in both languages; screenshots."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import PHONE, TIMEOUT, NewPage, Server
from tests.web.test_agency_security import sign_in, staff_of
from tests.web.test_verify_pages import axe_violations

Shot = Callable[[Page, str], Path]
IDENTITY = "ca-hcm"
DOCUMENTS = "ubnd-hcm"


def new_cccd() -> str:
    """A CCCD number the demo agency has not registered: HCM (079), a woman born in the 2000s (3), in 2003 (03)."""
    return "079303" + f"{secrets.randbelow(10**6):06d}"


def name_tag() -> str:
    """A random word to make a citizen's name unique on the shared server (names take letters only)."""
    return "".join(secrets.choice("bcdfghklmnpqrstvxy") for _ in range(8)).capitalize()


def sign_in_as(page: Page, server: Server, agency: str, lang: str = "vi") -> dict[str, str]:
    who = staff_of(server, agency=agency, role="clerk")
    page.goto(f"{server.base}/agency/signin?lang={lang}")
    page.locator("#username").fill(who["username"])
    page.locator("#password").fill(who["password"])
    page.locator("form.form-card button[type=submit]").click()
    expect(page.locator(".portal-bar")).to_be_visible()
    return who


def register_citizen(page: Page, server: Server, full_name: str, cccd: str) -> str:
    """Fill the register form (in Vietnamese) and submit it; the new citizen's id."""
    page.goto(f"{server.base}/agency/citizens/new")
    form = page.locator("#citizen-form")
    form.get_by_label("Số căn cước").fill(cccd)
    form.get_by_label("Họ và tên").fill(full_name)
    form.get_by_label("Ngày sinh").fill("2003-05-17")
    form.get_by_label("Giới tính").select_option("female")
    form.get_by_label("Quê quán").fill("Xã Tân Phú, Huyện Đức Hòa, Tỉnh Long An")
    form.get_by_label("Nơi thường trú").fill("12 Nguyễn Thị Minh Khai, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh")
    form.get_by_role("button", name="Đăng ký").click()
    expect(page.locator("#citizen-name")).to_have_text(full_name)
    found = re.search(r"/agency/citizens/([0-9a-f-]{36})$", page.url)
    assert found, page.url
    return found.group(1)


def create_offer_in_portal(page: Page, server: Server, citizen_id: str) -> dict[str, str]:
    """On the citizen's page, press "Create wallet offer"; what the offer page shows."""
    page.goto(f"{server.base}/agency/citizens/{citizen_id}")
    page.get_by_role("button", name="Tạo lời mời nhận vào ví").click()
    expect(page.locator("#offer-tx-code")).to_be_visible()
    return {
        "tx_code": page.locator("#offer-tx-code").inner_text().strip(),
        "wallet_url": page.locator("#offer-wallet-url").input_value(),
        "offer_id": str(page.locator("#offer").get_attribute("data-offer-id")),
    }


def _audit(server: Server, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.base}/v1/audit",
        params=params,
        headers={"Authorization": f"Bearer {server.credentials['admin_token']}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def test_identity_clerk_registers_a_citizen_and_creates_a_wallet_offer(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    page = new_page(**PHONE)
    who = sign_in_as(page, server, IDENTITY)
    nav = page.get_by_role("navigation", name="Cổng cơ quan")
    nav.get_by_role("link", name="Công dân").click()
    expect(page.get_by_role("heading", name="Công dân", exact=True)).to_be_visible()
    page.get_by_role("link", name="Đăng ký công dân").click()

    # the number contradicts the birth year: parse_citizen's CCCD_MISMATCH, said in Vietnamese under the field
    cccd = new_cccd()
    form = page.locator("#citizen-form")
    form.get_by_label("Số căn cước").fill(cccd)
    form.get_by_label("Họ và tên").fill("Trần Thị Thu Hà")
    form.get_by_label("Ngày sinh").fill("1990-05-17")
    form.get_by_label("Giới tính").select_option("female")
    form.get_by_label("Quê quán").fill("Long An")
    form.get_by_label("Nơi thường trú").fill("Quận 1, TP. Hồ Chí Minh")
    form.get_by_role("button", name="Đăng ký").click()
    mismatch = "Số căn cước không khớp với ngày sinh hoặc giới tính đã khai."
    expect(page.locator("#e-birth_date")).to_have_text(mismatch)  # the field parse_citizen names
    expect(page.locator("#f-birth_date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-full_name")).to_have_value("Trần Thị Thu Hà")  # what was typed stays
    assert axe_violations(page) == []
    screenshot(page, "agency-citizen-register-error-vi-phone")

    tag = name_tag()
    name = f"Trần Thị Thu Hà {tag}"
    citizen_id = register_citizen(page, server, name, cccd)
    expect(page.locator("[data-cccd-masked]")).to_have_text("••••••••" + cccd[-4:])
    assert cccd not in page.content()

    # the list: found by part of the name (its ASCII letters in any case), the number masked, never whole
    page.goto(f"{server.base}/agency/citizens?q=" + quote(f"Hà {tag.upper()}"))
    row = page.locator(f"tr[data-citizen-id='{citizen_id}']")
    expect(row).to_contain_text(name)
    expect(row.locator("[data-cccd-masked]")).to_have_text("••••••••" + cccd[-4:])
    assert cccd not in page.content()
    page.goto(f"{server.base}/agency/citizens?q=" + quote(f"Không Có {name_tag()}"))
    expect(page.locator("#citizen-table")).to_have_count(0)
    page.goto(f"{server.base}/agency/citizens?q=" + quote(f"Hà {tag}"))
    assert axe_violations(page) == []
    screenshot(page, "agency-citizens-vi-phone")

    offer = create_offer_in_portal(page, server, citizen_id)
    assert re.fullmatch(r"\d{6}", offer["tx_code"]), offer["tx_code"]
    expect(page.locator("#tx-code-say")).to_contain_text("Không gửi mã cùng với đường liên kết")
    prefix = f"{server.base}/wallet#credential_offer_uri="
    assert offer["wallet_url"].startswith(prefix), offer["wallet_url"]
    assert offer["wallet_url"] == prefix + quote(f"{server.base}/oid4vci/offers/{offer['offer_id']}", safe="")
    assert offer["tx_code"] not in offer["wallet_url"]
    qr = page.locator("#offer-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("#offer-countdown")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    first = page.locator("#offer-countdown").inner_text()
    expect(page.locator("#offer-countdown")).not_to_have_text(first)  # it counts down in place
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Sao chép đường liên kết").click()
    expect(page.locator("#offer-copy-status")).to_have_text("Đã sao chép.")
    assert page.evaluate("navigator.clipboard.readText()") == offer["wallet_url"]
    # the offer the wallet will fetch exists, and the code is not in it
    r = httpx.get(f"{server.base}/oid4vci/offers/{offer['offer_id']}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert offer["tx_code"] not in r.text
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "agency-citizen-offer-vi-phone")

    # audited by the clerk, with ids only: never the code, the name or the number
    entries = [e for e in _audit(server, agency=IDENTITY) if e["actor"] == f"staff:{who['username']}"]
    made = [e for e in entries if e["action"] == "credential_offer_created"]
    assert [e["detail"]["offer_id"] for e in made if e["detail"]["citizen_id"] == citizen_id] == [offer["offer_id"]]
    registered = [e for e in entries if e["action"] == "citizen_registered"]
    assert citizen_id in [e["detail"]["citizen_id"] for e in registered]
    text = str(made + registered)
    for secret in (offer["tx_code"], cccd, name, "Thu Hà"):
        assert secret not in text


def test_register_form_speaks_english_on_an_english_page(server: Server, new_page: NewPage, screenshot: Shot) -> None:
    page = new_page(**PHONE)
    sign_in_as(page, server, IDENTITY, lang="en")
    page.goto(f"{server.base}/agency/citizens/new?lang=en")
    form = page.locator("#citizen-form")
    form.get_by_label("CCCD number").fill("12345")
    form.get_by_label("Full name").fill("Lê Văn Tám")
    form.get_by_label("Date of birth").fill("2003-05-17")
    form.get_by_label("Sex").select_option("male")
    form.get_by_label("Place of origin").fill("Nghệ An")
    form.get_by_label("Place of residence").fill("Quận 3, TP. Hồ Chí Minh")
    form.get_by_role("button", name="Register").click()
    expect(page.locator("#e-cccd")).to_contain_text("12 digits")
    expect(page.locator("#e-cccd")).not_to_contain_text("chữ số")
    assert axe_violations(page) == []
    screenshot(page, "agency-citizen-register-error-en-phone")


def test_another_agencys_citizen_is_not_found_in_the_portal(server: Server, new_page: NewPage) -> None:
    """An id from another identity agency's registry (here: one that does not exist) is CITIZEN_NOT_FOUND, 404."""
    client = sign_in(server, **_creds(server, IDENTITY))
    r = client.get(f"/agency/citizens/{'0' * 8}-0000-4000-8000-{'0' * 12}")
    assert r.status_code == 404
    assert 'data-error-code="CITIZEN_NOT_FOUND"' in r.text


def _creds(server: Server, agency: str) -> dict[str, str]:
    who = staff_of(server, agency=agency, role="clerk")
    return {"username": who["username"], "password": who["password"]}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def test_documents_agency_clerk_sees_no_citizens_menu_and_gets_403(
    server: Server, new_page: NewPage, screenshot: Shot
) -> None:
    page = new_page(**PHONE)
    sign_in_as(page, server, DOCUMENTS)
    nav = page.get_by_role("navigation", name="Cổng cơ quan")
    expect(nav.get_by_role("link", name="Văn bản", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Công dân", exact=True)).to_have_count(0)
    response = page.goto(f"{server.base}/agency/citizens")
    assert response is not None and response.status == 403
    expect(page.locator("[data-error-code]")).to_have_attribute("data-error-code", "FORBIDDEN")
    screenshot(page, "agency-citizens-forbidden-vi-phone")

    # every route, not only the menu: the forms too, even with the session's own CSRF token
    client = sign_in(server, **_creds(server, DOCUMENTS))
    token = _csrf(client.get("/agency").text)
    assert client.get("/agency/citizens/new").status_code == 403
    r = client.post(
        "/agency/citizens/new",
        data={"csrf_token": token, "cccd": new_cccd(), "full_name": "Phạm Văn Bình", "birth_date": "2003-05-17"},
    )
    assert r.status_code == 403
    # a real citizen of the identity agency: still 403 for the documents agency, not a way to learn it exists
    identity = sign_in(server, **_creds(server, IDENTITY))
    itoken = _csrf(identity.get("/agency/citizens/new").text)
    made = identity.post(
        "/agency/citizens/new",
        data={
            "csrf_token": itoken,
            "cccd": new_cccd(),
            "full_name": "Phạm Thị Bình",
            "birth_date": "2003-05-17",
            "sex": "female",
            "place_of_origin": "Huế",
            "place_of_residence": "Quận 5",
        },
    )
    assert made.status_code == 303, made.text
    citizen_path = made.headers["location"]
    assert client.get(citizen_path).status_code == 403
    assert client.post(f"{citizen_path}/offers", data={"csrf_token": token}).status_code == 403
    # and the identity clerk's own offer form refuses a missing CSRF token
    assert identity.post(f"{citizen_path}/offers", data={}).status_code == 403


def test_offer_countdown_says_expired_when_the_ten_minutes_are_over(server: Server, new_page: NewPage) -> None:
    """The countdown runs on the page's own clock from the seconds the server gave (Playwright's clock, moved on)."""
    page = new_page(**PHONE)
    page.clock.install()
    sign_in_as(page, server, IDENTITY)
    citizen_id = register_citizen(page, server, f"Võ Thị Sáu {name_tag()}", new_cccd())
    create_offer_in_portal(page, server, citizen_id)
    countdown = page.locator("#offer-countdown")
    expect(countdown).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    page.clock.fast_forward("05:00")
    expect(countdown).to_have_text(re.compile(r"^(5:00|4:[0-5]\d)$"))
    page.clock.fast_forward("05:01")
    expect(countdown).to_have_text("đã hết hạn, hãy tạo lời mời mới")
    expect(countdown).to_have_class(re.compile(r"\bexpired\b"))
