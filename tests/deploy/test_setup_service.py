"""The commands docker-compose.yml's one-shot services run, run here as local processes on a real anvil and a real
PostgreSQL (no Docker engine exists here): `migrate`, then `setup` (deploy/setup.sh) creates the city, funds its
admin and relayer on the development chain and deploys the registry, once; run again, it changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.compose_parser import ROOT
from tests.plugins.db import PostgresServer
from xacthuc.devchain import AnvilNode

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.slow]

BIN = Path(sys.executable).parent


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def _environment(tmp_path: Path, database_url: str, rpc_url: str) -> dict[str, str]:
    """What docker-compose.yml's x-xacthuc block and the `setup` service set, with local paths and addresses."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "keystore_passphrase.txt").write_text("a compose secret for the keystore\n", encoding="utf-8")
    (secrets / "db_password.txt").write_text("a compose secret for the database\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "XACTHUC_DATA_DIR": str(tmp_path / "data"),
        "XACTHUC_DATABASE_URL": database_url,
        "XACTHUC_DATABASE_PASSWORD_FILE": str(secrets / "db_password.txt"),
        "XACTHUC_KEYSTORE_PASSPHRASE_FILE": str(secrets / "keystore_passphrase.txt"),
        "XACTHUC_RPC_URL": rpc_url,
        "FUND_FROM_DEV_CHAIN": "1",
    }
    return env


def _status(stdout: str) -> dict[str, str]:
    """``xacthuc chain status``'s lines (``key: value``, keys right-aligned) at the end of the setup's output."""
    pairs = (line.strip().split(": ", 1) for line in stdout.splitlines() if ": " in line)
    return {key: value for key, value in pairs}


def test_migrate_then_setup_creates_the_city_and_its_registry_once(
    tmp_path: Path, postgres_server: PostgresServer, anvil: AnvilNode
) -> None:
    url = postgres_server.create_database().replace("postgresql+psycopg://", "postgresql://")
    env = _environment(tmp_path, url, anvil.url)
    data = Path(env["XACTHUC_DATA_DIR"])

    migrate = _run([str(BIN / "alembic"), "-c", "deploy/alembic.ini", "upgrade", "head"], env)
    assert migrate.returncode == 0, migrate.stderr

    first = _run(["sh", "deploy/setup.sh"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "city created" in first.stdout
    registry = json.loads((data / "registry.json").read_text(encoding="utf-8"))
    keystore = (data / "keys" / "keystore.json").read_bytes()

    status = _status(first.stdout)  # setup ends with `xacthuc chain status`, for the operator's log
    assert status["contract"] == registry["address"] and status["chain_id"] == str(registry["chain_id"])
    assert status["relayer_funded"] == "True"
    assert status["embedded"] == "False"

    again = _run(["sh", "deploy/setup.sh"], env)  # every `docker compose up` runs it again
    assert again.returncode == 0, again.stdout + again.stderr
    assert "city created" not in again.stdout and "deployed DocumentRegistry" not in again.stdout
    assert _status(again.stdout)["contract"] == registry["address"]
    assert json.loads((data / "registry.json").read_text(encoding="utf-8")) == registry
    assert (data / "keys" / "keystore.json").read_bytes() == keystore
    for secret in ("a compose secret for the keystore", "a compose secret for the database"):
        assert secret not in first.stdout + first.stderr + again.stdout + again.stderr


def test_setup_without_funds_on_the_chain_fails_naming_the_admin_account(
    tmp_path: Path, postgres_server: PostgresServer, anvil: AnvilNode
) -> None:
    url = postgres_server.create_database().replace("postgresql+psycopg://", "postgresql://")
    env = _environment(tmp_path, url, anvil.url)
    env.pop("FUND_FROM_DEV_CHAIN")  # a real network: nobody funds the accounts but the operator
    assert _run([str(BIN / "alembic"), "-c", "deploy/alembic.ini", "upgrade", "head"], env).returncode == 0

    result = _run(["sh", "deploy/setup.sh"], env)
    assert result.returncode != 0
    admin = json.loads((Path(env["XACTHUC_DATA_DIR"]) / "keys" / "eth" / "city-admin.json").read_text())["address"]
    assert f"fund the city admin account 0x{admin.removeprefix('0x')}" in result.stderr
    assert not (Path(env["XACTHUC_DATA_DIR"]) / "registry.json").exists()
