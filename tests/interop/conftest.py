"""Interoperability tests: libraries we did not write (npm ``@openid4vc/openid4vci``, ``@openid4vc/openid4vp``,
``@sd-jwt/sd-jwt-vc``, the reference Python ``sd-jwt``) and our own CLI wallet, against a live ``xacthuc serve
--dev`` on 127.0.0.1 (the browser tests' ``serve``). The Node scripts beside this file are run with ``node``; nothing
leaves the loopback interface.

Every test here is marked ``anvil`` (the server runs its embedded anvil) and ``slow``: ``make test`` runs them,
``make unit`` leaves them out.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import ROOT, TIMEOUT, Server, serve

HERE = Path(__file__).resolve().parent
IDENTITY_AGENCY = "ca-hcm"  # the demo identity agency of `serve --dev` (dev-credentials.json)
NODE_TIMEOUT = 120  # seconds a Node script may take: a deadline, not a measurement


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.anvil)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh ``xacthuc serve --dev`` for the interop tests, its public URL its loopback address."""
    with serve(tmp_path_factory.mktemp("interop-server")) as s:
        yield s


def node(script: str, *args: str) -> dict[str, Any]:
    """Run ``tests/interop/SCRIPT`` with ``node`` (the project's node_modules) and parse the JSON it prints."""
    done = subprocess.run(
        ["node", str(HERE / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _cccd() -> str:
    """A CCCD number that parse_citizen accepts for a woman born in 2003 in Hồ Chí Minh City (province 079)."""
    return "079303" + f"{secrets.randbelow(10**6):06d}"


def new_citizen(server: Server) -> str:
    body = {
        "cccd": _cccd(),
        "full_name": "Nguyễn Thị Minh Khai",
        "birth_date": "2003-05-17",
        "sex": "female",
        "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
        "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    }
    r = httpx.post(f"{server.base}/v1/citizens", json=body, headers=server.auth(IDENTITY_AGENCY), timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def new_offer(server: Server, citizen_id: str | None = None) -> dict[str, Any]:
    """``POST /v1/citizens/{id}/offers`` as the identity agency (a new citizen unless one is named)."""
    citizen_id = citizen_id or new_citizen(server)
    r = httpx.post(
        f"{server.base}/v1/citizens/{citizen_id}/offers", headers=server.auth(IDENTITY_AGENCY), timeout=TIMEOUT
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def new_request(server: Server, claims: list[str], purpose: str | None = None) -> dict[str, Any]:
    """``POST /v1/presentation-requests`` as a relying party (no authentication)."""
    body: dict[str, Any] = {"claims": claims}
    if purpose is not None:
        body["purpose"] = purpose
    r = httpx.post(f"{server.base}/v1/presentation-requests", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return dict(r.json())


def request_status(server: Server, request_id: str) -> dict[str, Any]:
    r = httpx.get(f"{server.base}/v1/presentation-requests/{request_id}", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


def xacthuc(work: Path, *args: str, stdin: str = "", lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    """Run the CLI as a citizen would (its own data dir, the wallet passphrase from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_") and k not in ("LC_ALL", "LC_MESSAGES")}
    env.update(XACTHUC_DATA_DIR=str(work), XACTHUC_WALLET_PASSPHRASE="citizen passphrase", LANG=lang)
    return subprocess.run(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", *args],
        cwd=work,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
