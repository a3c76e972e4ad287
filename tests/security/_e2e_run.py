"""What the end-to-end secret sweeps share (tests/e2e/test_logs_hold_no_secrets.py, tests/security/test_privacy.py):
the ways a secret could be written in a line, the search for them in named texts, a citizen's name in every form a
person or a library could write it, a staff sign-in, and a production city served by a real ``xacthuc serve``."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlmodel import Session

from keys.bootstrap import RELAYER_ACCOUNT, create_city
from keys.keystore import TEST_KDF
from keys.staff import create_staff
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, free_port, fund

TIMEOUT = 30.0  # seconds an HTTP call may take before the test fails: a deadline, not a measurement
START_DEADLINE = 120.0  # seconds for serve to deploy the registry and answer /readyz on a busy 2-core machine
_JWS = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_DISCLOSURE = re.compile(r"(?<=~)[A-Za-z0-9_-]{16,}(?=~)")


def forms(value: str) -> set[str]:
    """The ways a value could be written in a line: as it is, JSON-escaped, URL-encoded."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1], quote(value, safe="")}


def name_forms(name: str) -> set[str]:
    """A Vietnamese name as it could be written anywhere: NFC, NFD, without diacritics (đ as d), each also in
    capitals (a name printed on a card)."""
    nfd = unicodedata.normalize("NFD", name)
    bare = "".join(c for c in nfd if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")
    found = {unicodedata.normalize("NFC", name), nfd, bare}
    return found | {f.upper() for f in found}


def _b64_decoded(segment: str) -> str:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8", "replace")
    except ValueError:
        return ""


def expand_tokens(text: str) -> str:
    """``text`` with the decoded parts of every compact JWS and SD-JWT disclosure in it appended: a CCCD number
    inside a signed token's payload is still in the answer."""
    decoded = [_b64_decoded(part) for token in _JWS.findall(text) for part in token.split(".")[:2]]
    decoded += [_b64_decoded(d) for d in _DISCLOSURE.findall(f"~{text}~")]
    return "\n".join([text, *decoded])


def find_leaks(hidden: dict[str, str], texts: dict[str, str]) -> list[str]:
    """Every place (``where: line``) one of ``hidden``'s values (what it is -> the value) appears in one of
    ``texts`` (where -> text), in any of its :func:`forms`. A short number counts only where it stands alone."""
    found = []
    for what, value in hidden.items():
        for form in forms(value):
            pattern = rf"(?<!\d){re.escape(form)}(?!\d)" if value.isdigit() else re.escape(form)
            for where, text in texts.items():
                for line in text.splitlines():
                    if re.search(pattern, line):
                        found.append(f"{what} in {where}: {line[:300]}")
    return found


def sign_in(base: str, username: str, password: str, **client_args: Any) -> tuple[int, httpx.Client]:
    """The portal's sign-in with ``username`` and ``password``: its status (303 on success) and the client holding
    the session cookie (the caller closes it), made with ``client_args`` (event hooks, say)."""
    client = httpx.Client(base_url=base, timeout=TIMEOUT, follow_redirects=False, **client_args)
    form = client.get("/agency/signin").text
    token = re.search(r'name="signin_token" value="([^"]+)"', form)
    assert token, "no sign-in token in the page"
    r = client.post("/agency/signin", data={"username": username, "password": password, "signin_token": token[1]})
    return r.status_code, client


def cccd_2003_female_hcm() -> str:
    """A CCCD number that parse_citizen accepts for a woman born in 2003 in Hồ Chí Minh City (province 079)."""
    return "079303" + f"{secrets.randbelow(10**6):06d}"


@dataclass
class ProductionCity:
    """A city set up as an operator sets one up (no development mode, the passphrase from a secrets file), served
    by a real ``xacthuc serve`` whose standard output and error go to two files."""

    base: str
    data_dir: Path
    passphrase: str
    api_keys: dict[str, str]  # agency id -> its API key
    staff: dict[str, tuple[str, str]]  # agency id -> (username, password)
    stdout: Path
    stderr: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_keys[agency]}"}

    def logs(self) -> dict[str, str]:
        return {
            "serve stdout": self.stdout.read_text("utf-8", "replace"),
            "serve stderr": self.stderr.read_text("utf-8", "replace"),
        }


_AGENCIES = (
    ("ubnd-hcm", "Ủy ban nhân dân Thành phố Hồ Chí Minh", ["documents"]),
    ("ca-hcm", "Công an Thành phố Hồ Chí Minh", ["identity"]),
)


def _make_city(data_dir: Path, passphrase: str) -> tuple[dict[str, str], dict[str, tuple[str, str]], list[str]]:
    """The city, its two agencies and a clerk of each, made in this process as ``xacthuc init``, ``agency create``
    and ``staff create`` make them (a cheap KDF: the keystore's cost is not what is tested here). Returns the API
    keys, the staff and the accounts to fund (the admin deploys the registry, the relayer pays for anchors)."""
    data_dir.mkdir(parents=True, mode=0o700)
    engine = make_engine(f"sqlite:///{data_dir / 'xacthuc.db'}")
    migrate(engine)
    now = datetime.now(UTC)
    keys: dict[str, str] = {}
    staff: dict[str, tuple[str, str]] = {}
    try:
        with Session(engine) as session:
            city = create_city(data_dir, session, passphrase, now, kdf=TEST_KDF)
            for agency_id, name, roles in _AGENCIES:
                made = city.provision_agency(session, name=name, roles=roles, now=now, agency_id=agency_id)
                assert made.api_key is not None
                keys[agency_id] = made.api_key.token
                username, password = f"clerk-{agency_id}", "Staff-pw-" + secrets.token_urlsafe(12)
                create_staff(session, agency_id=agency_id, username=username, role="clerk", password=password, now=now)
                staff[agency_id] = (username, password)
            session.commit()
            accounts = [city.admin_address, city.keystore.eth_address(RELAYER_ACCOUNT)]
    finally:
        engine.dispose()
    return keys, staff, accounts


@contextmanager
def production_city(work: Path, anvil: AnvilNode, *, batch_interval: str = "0.2") -> Iterator[ProductionCity]:
    """:class:`ProductionCity` on ``anvil`` under ``work``, JSON logs at INFO, until it answers ``/readyz``; always
    stopped."""
    data_dir = work / "var"
    passphrase = "keystore passphrase " + secrets.token_urlsafe(12)
    secret = work / "secrets" / "keystore_passphrase"
    secret.parent.mkdir(mode=0o700)
    secret.write_text(passphrase + "\n", encoding="utf-8")
    secret.chmod(0o600)
    keys, staff, accounts = _make_city(data_dir, passphrase)
    for account in accounts:
        fund(anvil.url, account, 10**21)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_RPC_URL=anvil.url,
        XACTHUC_KEYSTORE_PASSPHRASE_FILE=str(secret),
        XACTHUC_PUBLIC_URL=base,
        XACTHUC_PORT=str(port),
        XACTHUC_BATCH_INTERVAL=batch_interval,
        XACTHUC_LOG_FORMAT="json",
        XACTHUC_LOG_LEVEL="INFO",
    )
    city = ProductionCity(base, data_dir, passphrase, keys, staff, work / "serve.stdout", work / "serve.stderr")
    with city.stdout.open("wb") as out, city.stderr.open("wb") as err:
        city.proc = subprocess.Popen(
            [sys.executable, "-c", "from xacthuc.cli import main; main()", "serve"],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        _wait_ready(city)
        yield city
    finally:
        _stop(city.proc)


def _wait_ready(city: ProductionCity) -> None:
    assert city.proc is not None
    deadline = time.monotonic() + START_DEADLINE
    while True:
        assert city.proc.poll() is None, city.logs()
        try:
            if httpx.get(f"{city.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"xacthuc serve did not get ready: {city.logs()}"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def json_or_text(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text
