"""The agency portal's defences over real HTTP against ``xacthuc serve --dev``: the session cookie's attributes, a
form posted without its CSRF token refused, repeated wrong passwords slowed then refused, a clerk of one agency
unable to see or revoke another agency's documents, and every sign-in and failure in the audit log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.web.conftest import META, TIMEOUT, Server


def staff_of(server: Server, agency: str = "ubnd-hcm", role: str = "clerk") -> dict[str, str]:
    agency_creds = next(a for a in server.credentials["agencies"] if a["id"] == agency)
    return dict(next(s for s in agency_creds["staff"] if s["role"] == role))


def _token(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def sign_in(server: Server, username: str, password: str) -> httpx.Client:
    """A client signed in to the portal as ``username`` (the sign-in form's own token included)."""
    client = httpx.Client(base_url=server.base, timeout=TIMEOUT, follow_redirects=False)
    form = client.get("/agency/signin")
    r = client.post(
        "/agency/signin",
        data={"username": username, "password": password, "signin_token": _token(form.text, "signin_token")},
    )
    assert r.status_code == 303, r.text
    return client


def xacthuc(server: Server, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(server.data_dir), XACTHUC_DEV_MODE="true", XACTHUC_STAFF_PASSWORD="other-agency-pw-1"
    )
    r = subprocess.run(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.data_dir.parent,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    import json

    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def other_agency(server: Server) -> dict[str, str]:
    """A second documents agency (``ubnd-q1``) with its own clerk and API key, made with the CLI."""
    made = xacthuc(server, "agency", "create", "--name", "UBND Quận 1", "--roles", "documents", "--id", "ubnd-q1")
    xacthuc(server, "staff", "create", "--agency", "ubnd-q1", "--username", "canbo.q1", "--role", "clerk")
    return {"api_key": made["api_key"], "username": "canbo.q1", "password": "other-agency-pw-1"}


def test_session_cookie_is_httponly_samesite_strict(server: Server) -> None:
    clerk = staff_of(server)
    client = httpx.Client(base_url=server.base, timeout=TIMEOUT)
    form = client.get("/agency/signin")
    r = client.post("/agency/signin", data={**clerk, "signin_token": _token(form.text, "signin_token")})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("xacthuc_session="))
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attrs
    assert "samesite=strict" in cookie.lower() and "path=/agency" in cookie.lower()
    assert "secure" not in attrs  # the public URL is http here; https makes it Secure


def test_post_without_csrf_token_is_refused(server: Server) -> None:
    clerk = staff_of(server)
    client = sign_in(server, clerk["username"], clerk["password"])
    page = client.get("/agency/issue")
    assert page.status_code == 200
    files = {"file": ("qd.pdf", b"%PDF-1.7 csrf test", "application/pdf")}
    refused = client.post("/agency/issue", data={**META, "number": "901/QĐ-UBND"}, files=files)
    assert refused.status_code == 403 and 'data-error-code="CSRF_INVALID"' in refused.text
    wrong = client.post("/agency/issue", data={**META, "number": "901/QĐ-UBND", "csrf_token": "x" * 43}, files=files)
    assert wrong.status_code == 403
    listed = client.get("/agency/documents", params={"q": "901/QĐ-UBND"})
    assert ">901/QĐ-UBND</a>" not in listed.text and "0 văn bản" in listed.text  # nothing was issued
    signin_without_token = httpx.post(f"{server.base}/agency/signin", data=clerk, timeout=TIMEOUT)
    assert signin_without_token.status_code == 403  # the sign-in form has its own token (login CSRF)


def test_repeated_wrong_passwords_are_throttled(server: Server) -> None:
    # An account of its own: a throttled demo account would make the tests that sign in with it depend on the order.
    xacthuc(server, "staff", "create", "--agency", "ubnd-hcm", "--username", "thu.throttle", "--role", "manager")
    manager = {"username": "thu.throttle", "password": "other-agency-pw-1"}
    client = httpx.Client(base_url=server.base, timeout=TIMEOUT)
    token = _token(client.get("/agency/signin").text, "signin_token")
    statuses = []
    for _ in range(6):
        r = client.post(
            "/agency/signin",
            data={"username": manager["username"], "password": "wrong-password", "signin_token": token},
        )
        statuses.append(r.status_code)
    assert statuses[:3] == [401, 401, 401]  # three free failures, then slowed: the next try comes too soon
    assert 429 in statuses[3:]
    r = client.post("/agency/signin", data={**manager, "signin_token": token})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # even the right password must wait
    assert "Đăng nhập sai quá nhiều lần" in r.text


def test_clerk_cannot_see_or_revoke_another_agencys_document(server: Server, other_agency: dict[str, str]) -> None:
    theirs = httpx.post(
        f"{server.base}/v1/documents",
        data={**META, "number": "77/QĐ-UBND", "issuing_body": "Ủy ban nhân dân Quận 1"},
        files={"file": ("q1.pdf", b"%PDF-1.7 district 1", "application/pdf")},
        headers={"Authorization": f"Bearer {other_agency['api_key']}"},
        timeout=TIMEOUT,
    ).json()
    server.wait_status(theirs["id"], "anchored")
    clerk = staff_of(server)
    client = sign_in(server, clerk["username"], clerk["password"])
    assert client.get(f"/agency/documents/{theirs['id']}").status_code == 404
    assert ">77/QĐ-UBND</a>" not in client.get("/agency/documents", params={"q": "77/"}).text
    assert client.get("/agency/documents/status.json", params={"ids": theirs["id"]}).json() == {"statuses": {}}
    csrf = _token(client.get("/agency/issue").text, "csrf_token")
    r = client.post(
        f"/agency/documents/{theirs['id']}/revoke", data={"csrf_token": csrf, "reason": "annulled", "confirmed": "yes"}
    )
    assert r.status_code == 404
    assert server.document(theirs["id"])["status"] == "anchored"
    # and their own clerk sees it
    own = sign_in(server, other_agency["username"], other_agency["password"])
    assert own.get(f"/agency/documents/{theirs['id']}").status_code == 200


def test_signins_and_failures_are_audited(server: Server) -> None:
    clerk = staff_of(server)
    client = httpx.Client(base_url=server.base, timeout=TIMEOUT)
    token = _token(client.get("/agency/signin").text, "signin_token")
    client.post(
        "/agency/signin", data={"username": clerk["username"], "password": "nope-nope-1", "signin_token": token}
    )
    sign_in(server, clerk["username"], clerk["password"])
    r = httpx.get(
        f"{server.base}/v1/audit",
        params={"actor": f"staff:{clerk['username']}"},
        headers={"Authorization": f"Bearer {server.credentials['admin_token']}"},
        timeout=TIMEOUT,
    )
    actions = [e["action"] for e in r.json()["entries"]]
    assert actions[:2] == ["signin", "signin_failed"]
    assert all(e["address"] == "127.0.0.1" for e in r.json()["entries"][:2])


def test_pages_need_a_session(server: Server) -> None:
    for path in ("/agency", "/agency/documents", "/agency/issue", "/agency/import"):
        r = httpx.get(f"{server.base}{path}", timeout=TIMEOUT)
        assert r.status_code == 303 and r.headers["location"].startswith("/agency/signin"), path
    r = httpx.post(f"{server.base}/agency/issue", data=META, timeout=TIMEOUT)
    assert r.status_code == 401
