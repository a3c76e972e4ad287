"""Structured logs (issue 14, Observability): one JSON line per request with its id, method, path template, status
and duration; every line inside a request carries the request id; configured secrets are masked in every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from xacthuc.app import create_app
from xacthuc.logs import REQUEST_ID, known_secrets, log_format, setup_logging
from xacthuc.request_log import request_id_from
from xacthuc.services import Services
from xacthuc.settings import Settings

DOCUMENT_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"


@dataclass
class Logged:
    client: TestClient
    stream: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "xacthuc.request"]


@pytest.fixture
def logged(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Logged]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, "request log passphrase", now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    settings = Settings(_env_file=None, data_dir=data_dir, log_format="json")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging(settings, stream)
    app = create_app(Services(settings=settings, engine=engine, city=city, registry_client=registry))

    @app.get("/test/log-inside")
    def log_inside() -> dict[str, str]:  # a sync route: served in a worker thread, as most routes are
        logging.getLogger("xacthuc.test").warning("inside the request")
        return {"ok": "yes"}

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Logged(client, stream)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_one_json_line_per_request_with_id_method_template_status_and_duration(logged: Logged) -> None:
    r = logged.client.get(f"/v1/documents/{DOCUMENT_ID}?lang=en")
    assert r.status_code == 404
    [line] = logged.requests()
    assert line["request_id"] == r.headers["x-request-id"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/documents/{document_id}", 404)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["ts"].endswith("Z")


def test_the_raw_path_ids_and_query_strings_never_reach_the_log(logged: Logged) -> None:
    logged.client.get(f"/v1/documents/{DOCUMENT_ID}/bundle?token=query-secret-value")
    logged.client.get("/no/such/page-with-a-secret-in-its-path")
    text = logged.stream.getvalue()
    assert DOCUMENT_ID not in text and "query-secret-value" not in text and "page-with-a-secret" not in text
    assert [line["path"] for line in logged.requests()] == ["/v1/documents/{document_id}/bundle", "unmatched"]


def test_a_sane_incoming_request_id_is_kept_and_echoed(logged: Logged) -> None:
    r = logged.client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert r.headers["x-request-id"] == "lb-7f3a9c2e-0001"
    assert logged.requests()[0]["request_id"] == "lb-7f3a9c2e-0001"


@pytest.mark.parametrize(
    "given",
    ["short", "x" * 129, "has space in it", 'quote"injection"here', "-starts-with-dash", "ünïcode-request-id"],
)
def test_an_insane_incoming_request_id_is_replaced(logged: Logged, given: str) -> None:
    r = logged.client.get("/healthz", headers={"X-Request-ID": given.encode()})
    echoed = r.headers["x-request-id"]
    assert echoed != given and len(echoed) == 24 and int(echoed, 16) >= 0
    assert logged.requests()[0]["request_id"] == echoed


def test_request_ids_are_fresh_for_each_request() -> None:
    assert len({request_id_from([]) for _ in range(100)}) == 100


def test_lines_logged_inside_a_request_carry_its_id(logged: Logged) -> None:
    r = logged.client.get("/test/log-inside")
    inside = next(line for line in logged.lines() if line["msg"] == "inside the request")
    assert inside["request_id"] == r.headers["x-request-id"] == logged.requests()[0]["request_id"]
    logging.getLogger("xacthuc.test").warning("outside")
    outside = logged.lines()[-1]
    assert outside["msg"] == "outside" and "request_id" not in outside and REQUEST_ID.get() is None


def test_an_unhandled_error_is_a_500_line_and_its_traceback_carries_the_request_id(logged: Logged) -> None:
    assert logged.client.get("/test/boom").status_code == 500
    [line] = logged.requests()
    assert (line["path"], line["status"]) == ("/test/boom", 500)
    error = next(line for line in logged.lines() if line["msg"] == "unhandled error")
    assert error["request_id"] == line["request_id"] and "RuntimeError: boom" in error["exc"]


def test_every_line_is_one_json_object(logged: Logged) -> None:
    logging.getLogger("xacthuc.test").warning('a message with "quotes",\nnewlines and ünïcode')
    raw = logged.stream.getvalue().splitlines()
    assert len(raw) == 1 and json.loads(raw[0])["msg"] == 'a message with "quotes",\nnewlines and ünïcode'


def test_configured_secrets_are_masked_in_every_line(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        log_format="json",
        keystore_passphrase="correct horse battery staple",
        rpc_url="https://user:rpcpass@node.example/v3/0123456789abcdef0123456789abcdef,https://b.example/?key=k3y-v4lue",
        database_url="postgresql+psycopg://xacthuc:dbpassw0rd@db:5432/xacthuc",
    )
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging(settings, stream)
        log = logging.getLogger("xacthuc.test")
        log.warning("unlock with correct horse battery staple failed")
        log.warning("node https://user:rpcpass@node.example/v3/0123456789abcdef0123456789abcdef refused")
        log.warning("path /v3/0123456789abcdef0123456789abcdef, user rpcpass, key k3y-v4lue, db dbpassw0rd")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = stream.getvalue()
    for secret in ("correct horse battery staple", "rpcpass", "0123456789abcdef0123456789abcdef", "k3y-v4lue"):
        assert secret not in text
    assert "dbpassw0rd" not in text and text.count("***") >= 6
    assert set(known_secrets(settings)) >= {"correct horse battery staple", "dbpassw0rd", "k3y-v4lue"}


def test_a_database_password_from_its_file_is_masked_too(tmp_path: Path) -> None:
    secret_file = tmp_path / "db-password.txt"
    secret_file.write_text("f1le-passw0rd\n", encoding="utf-8")
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url="postgresql+psycopg://xacthuc@db:5432/xacthuc",
        database_password_file=secret_file,
    )
    assert "f1le-passw0rd" in known_secrets(settings)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("fmt", "dev", "tty", "expected"),
    [
        ("auto", False, True, "json"),  # production: JSON even at a terminal
        ("auto", True, False, "json"),  # development, logging to a file or a pipe: JSON
        ("auto", True, True, "text"),  # development at a terminal: readable
        ("json", True, True, "json"),
        ("text", False, False, "text"),
    ],
)
def test_log_format_setting(tmp_path: Path, fmt: str, dev: bool, tty: bool, expected: str) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, log_format=fmt, dev_mode=dev)
    assert log_format(settings, _Tty() if tty else io.StringIO()) == expected


def test_the_text_format_is_readable_and_names_the_request(logged: Logged, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, log_format="text")
    stream = io.StringIO()
    setup_logging(settings, stream)
    r = logged.client.get("/healthz")
    line = stream.getvalue().strip()
    assert f"INFO xacthuc.request [{r.headers['x-request-id']}]: GET /healthz 200" in line
    assert "path=/healthz status=200 duration_ms=" in line
