from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from xacthuc.cli.keys import agency_app, keys_app
from xacthuc.services import init_city
from xacthuc.settings import load_settings


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", "a test passphrase for the cli")
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    monkeypatch.delenv("XACTHUC_DEV_MODE", raising=False)
    init_city(load_settings(), datetime.now(UTC))  # `xacthuc init`: a production city, no demo agency
    app = typer.Typer()
    app.add_typer(agency_app, name="agency")
    app.add_typer(keys_app, name="keys")
    return app


def test_agency_create_rotate_and_export(cli: typer.Typer) -> None:
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["agency", "create", "--name", "Ủy ban nhân dân Quận 1", "--roles", "documents", "--id", "ubnd-q1", "--json"],
    )
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout.strip().splitlines()[-1])
    assert created["id"] == "ubnd-q1" and created["api_key"].startswith("xk_")
    r = runner.invoke(cli, ["keys", "rotate", "ubnd-q1", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["keys", "list", "--agency", "ubnd-q1", "--json"])
    statuses = sorted(k["status"] for k in json.loads(r.stdout.strip().splitlines()[-1]))
    assert statuses == ["active", "retired"]
    r = runner.invoke(cli, ["keys", "export-jwks"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["keys"]) == 3  # the root's, and ubnd-q1's two
    r = runner.invoke(cli, ["keys", "retire", "ubnd-q1", "no-such-kid", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "KEY_NOT_FOUND"
