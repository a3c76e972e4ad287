"""Issue 8, item 1: a deeply nested JSON body, sent by anyone, is a typed 4xx and never kills the server.

A body nested about 70,000 levels deep (about 140 KB) once made the process die with a segmentation fault in the
JSON parser, before authentication: py_ecc (imported under web3) raises Python's recursion limit to 100,000, so the
parser's recursion overflowed the C stack instead of raising. The app now refuses such a body before any route
parses it (``JSON_TOO_DEEP``), and the edges cap the recursion limit again after the imports.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import bootstrap_city
from keys.errors import JsonTooDeep
from keys.json_depth import MAX_JSON_DEPTH, check_json_depth, json_depth, loads
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from tests.plugins.chain import anvil_binary
from xacthuc.app import create_app
from xacthuc.devchain import free_port
from xacthuc.recursion import SAFE_RECURSION_LIMIT
from xacthuc.services import Services
from xacthuc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPTH = 70_000
#: The attack as observed: ``{"payload": [[[...]]]}``, about 140 KB.
DEEP_BODY = b'{"payload": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"
ROUTES = ["/v1/verify", "/v1/citizens"]


@pytest.fixture
def client(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[TestClient]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, "request limits passphrase", now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    services = Services(settings=settings, engine=engine, city=city, registry_client=registry)
    with TestClient(create_app(services), raise_server_exceptions=False) as c:
        yield c


def _refused_as_too_deep(r: httpx.Response) -> None:
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "JSON_TOO_DEEP"
    assert str(MAX_JSON_DEPTH) in r.json()["error"]["message"]


@pytest.mark.parametrize("route", ROUTES)
def test_deeply_nested_json_body_is_refused(client: TestClient, route: str) -> None:
    assert len(DEEP_BODY) > 140_000
    r = client.post(route, content=DEEP_BODY, headers={"Content-Type": "application/json"})  # no API key
    _refused_as_too_deep(r)
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json; charset=utf-8", "application/merge-patch+json", "text/plain"],
    ids=["no-content-type", "charset", "plus-json", "text-plain"],
)
def test_deeply_nested_json_is_refused_whatever_the_content_type(client: TestClient, content_type: str | None) -> None:
    # FastAPI parses a body without a Content-Type as JSON; a route may read any body as JSON.
    headers = {} if content_type is None else {"Content-Type": content_type}
    _refused_as_too_deep(client.post("/v1/citizens", content=DEEP_BODY, headers=headers))


def test_deeply_nested_json_in_utf16_or_chunked_is_refused(client: TestClient) -> None:
    # json.loads reads UTF-16 and UTF-32 bodies too; a chunked body has no Content-Length.
    utf16 = DEEP_BODY.decode().encode("utf-16-le")
    _refused_as_too_deep(client.post("/v1/citizens", content=utf16, headers={"Content-Type": "application/json"}))
    chunks = (DEEP_BODY[i : i + 4096] for i in range(0, len(DEEP_BODY), 4096))
    _refused_as_too_deep(client.post("/v1/verify", content=chunks, headers={"Content-Type": "application/json"}))


def test_brackets_inside_strings_do_not_count(client: TestClient) -> None:
    shallow = json.dumps({"payload": "[" * DEPTH + '\\"{' * 100}).encode()
    r = client.post("/v1/verify", content=shallow, headers={"Content-Type": "application/json"})
    assert r.status_code != 422 or r.json()["error"]["code"] != "JSON_TOO_DEEP", r.text
    nested = {"given_name": [[[["An"]]]]}  # within the limit: reaches the route, which asks for an API key
    r = client.post("/v1/citizens", json=nested)
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"


def test_deeply_nested_json_inside_a_payload_is_an_error_verdict_not_a_crash(client: TestClient) -> None:
    # A shallow body can still carry deep JSON inside (the payload of an SD-JWT, as deep as the payload length
    # limit allows): the parser meets it in a worker thread, under the capped recursion limit.
    def seg(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = seg(b'{"alg":"ES256","typ":"dc+sd-jwt","kid":"k"}')
    token = header + "." + seg(b"[" * 2900 + b"]" * 2900) + "." + seg(b"x" * 64) + "~"
    r = client.post("/v1/verify", json={"payload": token})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] in ("error", "invalid")
    assert client.get("/healthz").status_code == 200


def test_building_the_app_caps_the_recursion_limit_a_dependency_raised(client: TestClient) -> None:
    assert sys.getrecursionlimit() <= SAFE_RECURSION_LIMIT
    with pytest.raises(RecursionError):  # not a segmentation fault
        json.loads(DEEP_BODY)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": "[[[[{{"}]}', 3),
        ('"\\"[["', 0),
        ('["\\\\", [[]]]', 3),
        ('["\\"]", [[]]]', 3),
        ("[" * 100, 100),
        ('"unterminated [[[[', 0),
    ],
)
def test_json_depth_counts_what_the_parser_would_nest(text: str, depth: int) -> None:
    for data in (text, text.encode(), text.encode("utf-16"), text.encode("utf-32-be")):
        assert json_depth(data) == depth


def test_json_depth_guard_refuses_before_parsing() -> None:
    assert loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(JsonTooDeep) as info:
        check_json_depth(DEEP_BODY)
    assert info.value.code == "JSON_TOO_DEEP" and info.value.http_status == 422


def test_cli_verify_refuses_a_deeply_nested_bundle_file(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(b'{"proof": ' + b"[" * DEPTH + b"]" * DEPTH + b"}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    done = subprocess.run(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", "verify", str(bundle), "--json"],
        cwd=ROOT,
        env={**env, "XACTHUC_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert json.loads(done.stdout)["error"]["code"] == "JSON_TOO_DEEP"


@pytest.mark.anvil
def test_deeply_nested_json_body_leaves_the_running_server_alive(tmp_path: Path) -> None:
    """The real server process (``xacthuc serve``, its embedded node too), the real 140 KB body, no API key: typed
    422s, and both live."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(XACTHUC_DATA_DIR=str(tmp_path / "var"), XACTHUC_PORT=str(port), XACTHUC_DEV_MODE="true")
    env["XACTHUC_ANVIL_BIN"] = str(anvil_binary())
    proc = subprocess.Popen(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", "serve", "--no-worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        for route in ROUTES:
            r = httpx.post(base + route, content=DEEP_BODY, headers={"Content-Type": "application/json"}, timeout=30)
            _refused_as_too_deep(r)
        assert proc.poll() is None, "the server died"
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"  # the node lives too
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
