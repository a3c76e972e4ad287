"""Issue 8, item 10 on the CLI: ``xacthuc id register`` files the citizen under one identity agency, and
``xacthuc id issue`` for another agency answers ``CITIZEN_NOT_FOUND``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from keys.bootstrap import create_city
from keys.keystore import TEST_KDF
from xacthuc.cli.identity import id_app
from xacthuc.database import make_engine, migrate
from xacthuc.settings import load_settings

PASSPHRASE = "a keystore passphrase for the citizen scope tests"
CITIZEN = [
    "--cccd", "079303001234", "--full-name", "Nguyễn Thị Minh Khai", "--birth-date", "2003-05-17", "--sex", "female",
    "--place-of-origin", "Huế", "--place-of-residence", "Quận 1, Thành phố Hồ Chí Minh", "--json",
]  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.delenv("XACTHUC_DEV_MODE", raising=False)
    settings = load_settings()
    settings.data_dir.mkdir(mode=0o700, parents=True)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        city = create_city(settings.data_dir, session, PASSPHRASE, now, kdf=TEST_KDF)
        for agency_id, roles in (("ca-a", ["identity"]), ("ca-b", ["identity"]), ("stp", ["documents"])):
            city.provision_agency(session, name=agency_id, roles=roles, now=now, agency_id=agency_id, api_roles=[])
        session.commit()
    engine.dispose()
    app = typer.Typer()
    app.add_typer(id_app, name="id")
    return app


def _run(cli: typer.Typer, *args: str, code: int = 0) -> Any:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == code, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_cli_issuing_for_another_agencys_citizen_is_not_found(cli: typer.Typer) -> None:
    citizen = _run(cli, "id", "register", *CITIZEN, "--agency", "ca-a")
    assert citizen["agency"] == "ca-a"
    r = _run(cli, "id", "issue", citizen["id"], "--agency", "ca-b", "--json", code=2)
    assert r["error"]["code"] == "CITIZEN_NOT_FOUND"
    assert "079303001234" not in json.dumps(r) and "Khai" not in json.dumps(r)
    assert _run(cli, "id", "issue", citizen["id"], "--agency", "ca-a", "--json")["issuer"] == "ca-a"
    # The same number in the other agency's own registry: no conflict, nothing learnt.
    assert _run(cli, "id", "register", *CITIZEN, "--agency", "ca-b")["id"] != citizen["id"]


def test_cli_register_needs_an_identity_agency(cli: typer.Typer) -> None:
    r = _run(cli, "id", "register", *CITIZEN, code=2)  # two identity agencies: which one must be said
    assert r["error"]["code"] == "INVALID_INPUT" and "--agency" in r["error"]["message"]
    # as over HTTP (issue 10): an agency without identity:issue is FORBIDDEN, an unknown one AGENCY_NOT_FOUND
    for agency, code in (("stp", "FORBIDDEN"), ("no-such-agency", "AGENCY_NOT_FOUND")):
        r = _run(cli, "id", "register", *CITIZEN, "--agency", agency, code=2)
        assert r["error"]["code"] == code and agency in r["error"]["message"]
