"""Issue 8, items 4, 7 and 13 (one part): who may create a city, and what a production data dir holds.

- Item 4: a production data dir once got the two demo agencies with live API keys and an admin token in
  ``dev-credentials.json`` (``agency create`` on a fresh dir, and ``serve``), and the startup banner printed API keys
  into the server's log when its output was redirected. Now only development mode (``serve --dev`` or
  XACTHUC_DEV_MODE=true) makes demo agencies and the credentials file, the settings default to production, and the
  banner prints keys only to a terminal. ``xacthuc init`` creates a production city and prints no secret.
- Item 7: any command bootstrapped a new city wherever ``--data-dir`` pointed (``doc import`` signed documents with
  the stray city's keys and exited 0), and ``doc show`` printed a SQLAlchemy traceback. Now every command but
  ``serve --dev`` and ``init`` refuses a data dir without a city (``CITY_NOT_FOUND``, exit 2, the dir named, nothing
  written), and the CLI's one error printer turns a typed or storage error into one line, never a traceback.
- Item 13: an empty production passphrase ended in a traceback; now ``KEYSTORE_PASSPHRASE_MISSING``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from keys import agencies as ag
from keys.bootstrap import CITY_ID, CREDENTIALS_FILE, city_exists, create_city
from keys.errors import CityNotFound, KeystorePassphraseMissing
from keys.keystore import TEST_KDF
from xacthuc import cli
from xacthuc.citysetup import resolve_passphrase
from xacthuc.cli.init import init
from xacthuc.cli.keys import agency_app, keys_app
from xacthuc.cli.serve import announce_dev_credentials
from xacthuc.database import make_engine, migrate
from xacthuc.services import Role, build_services
from xacthuc.settings import Settings

PASSPHRASE = "a production keystore passphrase"
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
ULID = "01J0000000000000000000000Z"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No XACTHUC_* setting from the caller's environment; a fast KDF for every keystore created here."""
    for name in list(os.environ):
        if name.startswith("XACTHUC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "400")  # one error line, whatever the terminal
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))


def _settings(data_dir: Path, **kw: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **kw)


def _make_city(data_dir: Path, *, demo: bool = False) -> None:
    data_dir.mkdir(parents=True)
    engine = make_engine(_settings(data_dir).resolved_database_url())
    migrate(engine)
    with Session(engine) as session:
        create_city(data_dir, session, PASSPHRASE, NOW, kdf=TEST_KDF, demo=demo)
        session.commit()
    engine.dispose()


def _api_keys(data_dir: Path) -> list[ag.ApiKey]:
    engine = make_engine(_settings(data_dir).resolved_database_url())
    try:
        with Session(engine) as session:
            return list(session.exec(select(ag.ApiKey)).all())
    finally:
        engine.dispose()


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``xacthuc ARGS`` through the real entry point (its top-level error printer included), in this process."""
    monkeypatch.setattr(sys, "argv", ["xacthuc", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    code = exited.value.code
    return code if isinstance(code, int) else 0 if code is None else 1


# --- item 7: a data dir without a city is refused, and nothing is written into it ------------------------------------


def _stray_commands(tmp_path: Path) -> dict[str, list[str]]:
    decision = tmp_path / "inputs" / "qd.pdf"
    decision.parent.mkdir(exist_ok=True)
    decision.write_bytes(b"%PDF-1.7 a decision")
    (tmp_path / "inputs" / "qd.pdf.json").write_text(json.dumps({"number": "1/QĐ-UBND"}), "utf-8")
    issue_options = [
        "--number", "2392/QĐ-UBND", "--title", "T", "--issuing-body", "UBND", "--place", "HCM",
        "--issued-on", "2024-07-15", "--signer-name", "A", "--signer-title", "Chủ tịch",
    ]  # fmt: skip
    register = [
        "id", "register", "--cccd", "079303001234", "--full-name", "Nguyễn Thị Minh Khai", "--birth-date",
        "2003-05-17", "--sex", "female", "--place-of-origin", "Huế", "--place-of-residence", "Quận 1",
    ]  # fmt: skip
    return {
        "keys list": ["keys", "list"],
        "keys rotate": ["keys", "rotate", "ubnd-hcm"],
        "keys export-jwks": ["keys", "export-jwks"],
        "agency create": ["agency", "create", "--name", "Ủy ban nhân dân Quận 1", "--roles", "documents"],
        "agency list": ["agency", "list"],
        "doc issue": ["doc", "issue", str(decision), *issue_options],
        "doc import": ["doc", "import", str(decision.parent)],
        "doc show": ["doc", "show", ULID],
        "doc revoke": ["doc", "revoke", ULID, "--reason", "annulled"],
        "anchor": ["anchor", "--wait"],
        "chain status": ["chain", "status"],
        "worker": ["worker"],
        "serve": ["serve"],
        "id register": register,
        "id issue": ["id", "issue", "C1"],
        "id revoke": ["id", "revoke", "C1"],
        "verify": ["verify", "XD1:AAAA"],
    }


STRAY = [
    "keys list", "keys rotate", "keys export-jwks", "agency create", "agency list", "doc issue", "doc import",
    "doc show", "doc revoke", "anchor", "chain status", "worker", "serve", "id register", "id issue", "id revoke",
    "verify",
]  # fmt: skip


# serve in development mode is `serve --dev`, which creates a city on a fresh data dir by design
MODES = [(c, "production") for c in STRAY] + [(c, "development") for c in STRAY if c != "serve"]


@pytest.mark.parametrize(("command", "mode"), MODES)
def test_a_mistyped_data_dir_is_refused_and_never_becomes_a_city(
    command: str, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if mode == "development":  # development mode generates a passphrase: still never for a mistyped dir
        monkeypatch.setenv("XACTHUC_DEV_MODE", "true")
    else:
        monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    args = _stray_commands(tmp_path)[command]
    parent = tmp_path / "typo"
    parent.mkdir()
    stray = parent / "var"
    assert _main(monkeypatch, *args, "--data-dir", str(stray)) == 2
    printed = capsys.readouterr().err
    assert "error CITY_NOT_FOUND:" in printed and str(stray) in "".join(printed.split()), printed
    assert list(parent.iterdir()) == [], "something was written for a data dir without a city"


@pytest.mark.parametrize("command", ["keys list", "doc import", "doc show", "anchor"])
def test_a_mistyped_data_dir_is_a_typed_json_error(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _stray_commands(tmp_path)[command]
    stray = tmp_path / "typo" / "var"
    assert _main(monkeypatch, *args, "--data-dir", str(stray), "--json") == 2
    body = json.loads(capsys.readouterr().out)
    assert body["error"]["code"] == "CITY_NOT_FOUND" and str(stray) in body["error"]["message"]
    assert not stray.parent.exists()


@pytest.mark.parametrize("source", ["text", "bundle"])
def test_verify_without_trust_root_or_data_dir_refuses_and_says_what_to_pass(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the default data dir ./var is not there
    if source == "bundle":
        (tmp_path / "bundle.json").write_text(json.dumps({"payload": "XD1:AAAA"}), "utf-8")
        argument = "bundle.json"
    else:
        argument = "XD1:AAAA"
    assert _main(monkeypatch, "verify", argument, "--rpc-url", "http://127.0.0.1:9") == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "CITY_NOT_FOUND" in printed and "--trust-root" in printed and "--data-dir" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == (["bundle.json"] if source == "bundle" else [])


def test_doc_show_with_a_mistyped_data_dir_prints_no_traceback(tmp_path: Path) -> None:
    """The observed case, as a user runs it: a process whose standard error is one line, not 60 of SQLAlchemy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    stray = tmp_path / "typo" / "var"
    r = subprocess.run(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", "doc", "show", ULID, "--data-dir", str(stray)],
        cwd=ROOT,
        env={**env, "COLUMNS": "400"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "CITY_NOT_FOUND" in r.stderr
    assert not stray.parent.exists()


def test_a_database_error_is_one_typed_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _make_city(tmp_path / "var")
    monkeypatch.setenv("XACTHUC_DATABASE_URL", f"sqlite:///{tmp_path / 'no-such-dir' / 'xacthuc.db'}")
    assert _main(monkeypatch, "doc", "show", ULID, "--data-dir", str(tmp_path / "var")) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error STORAGE_UNAVAILABLE: the database could not be used"), printed


def test_build_services_refuses_a_data_dir_without_a_city(tmp_path: Path) -> None:
    stray = tmp_path / "typo" / "var"
    with pytest.raises(CityNotFound) as refused:
        build_services(_settings(stray, keystore_passphrase=PASSPHRASE, dev_mode=True), role=Role.KEYS)
    assert refused.value.code == "CITY_NOT_FOUND" and refused.value.data_dir == str(stray)
    assert not stray.parent.exists()


# --- item 4: production data dirs hold no demo agency, no credentials file, no secret on any output ---------------


def test_settings_default_to_production_mode() -> None:
    assert _settings(Path("var")).dev_mode is False


def _init_app() -> typer.Typer:
    app = typer.Typer()
    app.command("init")(init)
    app.add_typer(agency_app, name="agency")
    app.add_typer(keys_app, name="keys")
    return app


def test_init_creates_a_production_city_with_no_agency_and_prints_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var"
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    runner = CliRunner()
    r = runner.invoke(_init_app(), ["init", "--json"])
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["dev_mode"] is False and created["admin_address"].startswith("0x")
    assert PASSPHRASE not in r.output and "xk_" not in r.output
    assert city_exists(data_dir)
    assert not (data_dir / CREDENTIALS_FILE).exists() and not (data_dir / "dev-passphrase").exists()
    assert _api_keys(data_dir) == []  # not even an admin token
    agencies = json.loads(runner.invoke(_init_app(), ["agency", "list", "--json"]).stdout)
    assert [a["id"] for a in agencies] == [CITY_ID]

    again = runner.invoke(_init_app(), ["init", "--json"])
    assert again.exit_code == 2 and json.loads(again.stdout)["error"]["code"] == "KEYSTORE_EXISTS"


def test_agency_create_in_production_makes_one_agency_and_no_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The observed case: ``agency create`` with XACTHUC_DEV_MODE=false once added both demo agencies and an admin
    token, all written to dev-credentials.json."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("XACTHUC_DEV_MODE", "false")
    runner = CliRunner()
    create = ["agency", "create", "--name", "UBND Quận 1", "--roles", "documents"]
    refused = runner.invoke(_init_app(), [*create, "--json"])
    assert refused.exit_code == 2 and json.loads(refused.stdout)["error"]["code"] == "CITY_NOT_FOUND"
    assert not data_dir.exists()

    assert runner.invoke(_init_app(), ["init"]).exit_code == 0
    r = runner.invoke(_init_app(), [*create, "--id", "ubnd-q1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["api_key"].startswith("xk_")
    assert not (data_dir / CREDENTIALS_FILE).exists()
    assert {k.agency_id for k in _api_keys(data_dir)} == {"ubnd-q1"}
    agencies = json.loads(runner.invoke(_init_app(), ["agency", "list", "--json"]).stdout)
    assert sorted(a["id"] for a in agencies) == [CITY_ID, "ubnd-q1"]


def test_a_production_start_writes_no_credentials_file_not_even_the_admin_token(tmp_path: Path) -> None:
    """``serve`` in production once wrote the admin token to dev-credentials.json; also when it recreates the rows
    of a new database on an existing data dir, production issues no key and writes no file."""
    data_dir = tmp_path / "var"
    _make_city(data_dir)
    settings = _settings(data_dir, keystore_passphrase=PASSPHRASE)
    build_services(settings, role=Role.KEYS).close()
    assert not (data_dir / CREDENTIALS_FILE).exists() and _api_keys(data_dir) == []

    (data_dir / "xacthuc.db").unlink()  # a new database on the old data dir
    services = build_services(settings, role=Role.KEYS)
    try:
        assert services.require_city().root_signer.kid
    finally:
        services.close()
    assert not (data_dir / CREDENTIALS_FILE).exists() and _api_keys(data_dir) == []


def test_serve_dev_creates_the_demo_city_and_production_serve_refuses_a_fresh_dir(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    with pytest.raises(CityNotFound):
        build_services(_settings(fresh, keystore_passphrase=PASSPHRASE), role=Role.KEYS)
    assert not fresh.exists()
    services = build_services(_settings(fresh, dev_mode=True), role=Role.NEW_CITY)
    services.close()
    creds = json.loads((fresh / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    assert {a["id"] for a in creds["agencies"]} == {"ubnd-hcm", "ca-hcm"} and creds["admin_token"]


def _write_demo_credentials(path: Path) -> str:
    key = "xk_0123456789abcdef_" + "A" * 43
    agency = {"id": "ubnd-hcm", "name": "UBND", "roles": ["documents:issue"], "api_key": key}
    creds = {"admin_token": "xk_fedcba9876543210_" + "B" * 43, "agencies": [agency]}
    path.write_text(json.dumps(creds), "utf-8")
    return key


def test_the_startup_banner_prints_no_key_when_its_output_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A redirected server log once received every demo API key; it now only learns where the file is."""
    path = tmp_path / CREDENTIALS_FILE
    _write_demo_credentials(path)
    announce_dev_credentials(path)  # capsys: standard error is not a terminal
    captured = capsys.readouterr()
    assert "xk_" not in captured.err + captured.out
    assert str(path) in captured.err


def test_the_startup_banner_shows_the_keys_once_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / CREDENTIALS_FILE
    key = _write_demo_credentials(path)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    announce_dev_credentials(path)
    assert key in capsys.readouterr().err


# --- item 13 (one part): an empty or missing production passphrase is a typed refusal ------------------------------


def test_an_empty_production_passphrase_is_refused_with_a_typed_error(tmp_path: Path) -> None:
    empty_file = tmp_path / "passphrase"
    empty_file.write_text("\n", "utf-8")
    for settings in (
        _settings(tmp_path / "var", keystore_passphrase=""),
        _settings(tmp_path / "var", keystore_passphrase_file=empty_file),
    ):
        with pytest.raises(KeystorePassphraseMissing) as refused:
            resolve_passphrase(settings)
        assert refused.value.code == "KEYSTORE_PASSPHRASE_MISSING" and "empty" in refused.value.message


@pytest.mark.parametrize("how", ["empty variable", "empty file", "nothing"])
@pytest.mark.parametrize("command", ["init", "serve"])
def test_production_without_a_passphrase_refuses_in_one_line(
    how: str,
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "var"
    if command == "serve":
        _make_city(data_dir)
    if how == "empty variable":
        monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", "")
    elif how == "empty file":
        (tmp_path / "passphrase").write_text("", "utf-8")
        monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE_FILE", str(tmp_path / "passphrase"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)  # a service manager: nobody to ask
    assert _main(monkeypatch, command, "--data-dir", str(data_dir)) == 2
    assert capsys.readouterr().err.startswith("error KEYSTORE_PASSPHRASE_MISSING:")
    if command == "init":
        assert not data_dir.exists()


def test_development_mode_never_replaces_the_passphrase_of_a_production_city(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var"
    _make_city(data_dir)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(KeystorePassphraseMissing):
        resolve_passphrase(_settings(data_dir, dev_mode=True))
    assert not (data_dir / "dev-passphrase").exists()
