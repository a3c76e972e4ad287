"""``xacthuc backup create|restore`` refusals and the file format, on SQLite and PostgreSQL, through the command line
as an operator runs it: a wrong passphrase, a damaged or cut-off file and a non-empty target are refused with a
typed error and no traceback, and nothing is written. (The whole round trip with anchored documents and an ID:
tests/e2e/test_backup_e2e.py.)"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from keys import agencies as ag
from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from xacthuc import audit
from xacthuc.backup import read_header
from xacthuc.cli import app
from xacthuc.database import make_engine

PASSPHRASE = "a passphrase for the backup tests"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _env(**extra: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("XACTHUC_")}
    env.update({"XACTHUC_KEYSTORE_PASSPHRASE": PASSPHRASE, **extra})
    return env


def _run(args: list[str], **env: str) -> tuple[int, dict[str, Any]]:
    handlers = list(logging.getLogger().handlers)
    try:
        result = CliRunner().invoke(app, [*args, "--json"], env=_env(**env))
    finally:  # the command's logging set-up wrote to the runner's stream, closed now
        logging.getLogger().handlers[:] = handlers
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def city(engine: Engine, tmp_path: Path) -> tuple[Path, str]:
    """A city with the demo agencies (keystore, records, credentials) in a data dir, its database at ``engine``."""
    data_dir = tmp_path / "var"
    with Session(engine) as session:
        bootstrap_city(data_dir, session, PASSPHRASE, NOW, kdf=TEST_KDF)
        for n in range(3):  # ids from a sequence on PostgreSQL
            audit.record(session, action=audit.ACTIONS[0], actor="cli", now=NOW, detail={"n": n, "tên": "Quận 1"})
        session.commit()
    (data_dir / "registry.json").write_text('{"chain_id": 31337, "address": "0x' + "ab" * 20 + '"}')
    (data_dir / "anvil").mkdir()
    (data_dir / "anvil" / "state.json").write_text("{}")
    return data_dir, engine.url.render_as_string(hide_password=False)


@pytest.fixture
def backup(city: tuple[Path, str], tmp_path: Path) -> Path:
    data_dir, url = city
    out = tmp_path / "city.xbk"
    code, result = _run(["backup", "create", str(out), "--data-dir", str(data_dir)], XACTHUC_DATABASE_URL=url)
    assert code == 0, result
    return out


def _restore(backup: Path, target: Path, database_url: str | None = None, **env: str) -> tuple[int, dict[str, Any]]:
    args = ["backup", "restore", str(backup), "--data-dir", str(target)]
    return _run(args + (["--database-url", database_url] if database_url else []), **env)


def test_backup_holds_the_keystore_and_data_files_but_not_the_dev_chain(backup: Path, city: tuple[Path, str]) -> None:
    data_dir, _ = city
    with open(backup, "rb") as fh:
        header, _ = read_header(fh)
    assert header["format"] == "xacthuc-backup/1" and header["revision"] and header["created_at"]
    assert PASSPHRASE.encode() not in backup.read_bytes() and b"keystore.json" not in backup.read_bytes()
    code, result = _restore(backup, data_dir.parent / "restored")
    assert code == 0, result
    restored = data_dir.parent / "restored"
    assert (restored / "keys" / "keystore.json").read_bytes() == (data_dir / "keys" / "keystore.json").read_bytes()
    assert json.loads((restored / "registry.json").read_text())["chain_id"] == 31337
    assert not (restored / "anvil").exists() and "anvil/state.json" not in result["files"]
    assert (restored / "xacthuc.db").exists() and result["rows"] > 0
    assert oct((restored / "keys").stat().st_mode & 0o777) == "0o700"


def test_restore_refuses_a_wrong_passphrase(backup: Path, tmp_path: Path) -> None:
    code, result = _restore(backup, tmp_path / "new", XACTHUC_KEYSTORE_PASSPHRASE="not the passphrase at all")
    assert code == 2 and result["error"]["code"] == "BACKUP_PASSPHRASE_WRONG"
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("where", ["header", "key box", "middle", "last byte", "cut off", "appended"])
def test_restore_refuses_a_damaged_file(backup: Path, tmp_path: Path, where: str) -> None:
    data = bytearray(backup.read_bytes())
    first_nl = data.index(b"\n")
    second_nl = data.index(b"\n", first_nl + 1)
    if where == "header":
        data[first_nl - 3] ^= 0x01
    elif where == "key box":
        data[second_nl - 5] ^= 0x01
    elif where == "middle":
        data[(second_nl + len(data)) // 2] ^= 0x01
    elif where == "last byte":
        data[-1] ^= 0x01
    elif where == "cut off":
        del data[-100:]
    else:
        data += b"\x00" * 10
    backup.write_bytes(bytes(data))
    code, result = _restore(backup, tmp_path / "new")
    wanted = {"BACKUP_DAMAGED", "BACKUP_PASSPHRASE_WRONG"} if where == "key box" else {"BACKUP_DAMAGED"}
    assert code == 2 and result["error"]["code"] in wanted, result
    assert not (tmp_path / "new").exists() and not (tmp_path / ".new.restoring").exists()


def test_restore_refuses_a_non_empty_data_dir(backup: Path, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("someone's files")
    code, result = _restore(backup, target)
    assert code == 2 and result["error"]["code"] == "RESTORE_TARGET_NOT_EMPTY"
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_restore_refuses_a_non_empty_database(backup: Path, city: tuple[Path, str], tmp_path: Path) -> None:
    _, url = city  # the source's own database, full
    code, result = _restore(backup, tmp_path / "new", database_url=url)
    assert code == 2 and result["error"]["code"] == "RESTORE_TARGET_NOT_EMPTY"
    assert not (tmp_path / "new").exists()


def test_restore_into_an_empty_migrated_database_and_the_rows_are_the_same(
    backup: Path, city: tuple[Path, str], tmp_path: Path, db_url: str, request: pytest.FixtureRequest
) -> None:
    _, source_url = city
    if db_url.startswith("sqlite"):
        target_url = f"sqlite:///{tmp_path / 'target.db'}"
    else:
        target_url = request.getfixturevalue("postgres_server").create_database()
    code, result = _restore(backup, tmp_path / "new", database_url=target_url)
    assert code == 0, result
    assert _rows(source_url) == _rows(target_url)


@pytest.mark.postgres
def test_restored_postgresql_sequences_continue_after_the_largest_id(
    backup: Path, tmp_path: Path, postgres_server: Any
) -> None:
    target_url = postgres_server.create_database()
    code, result = _restore(backup, tmp_path / "new", database_url=target_url)
    assert code == 0, result
    engine = make_engine(target_url)
    try:
        with Session(engine) as session:
            row = audit.record(session, action=audit.ACTIONS[0], actor="cli", now=NOW)
            session.commit()
            assert row.id == 4
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, list[Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            keys = conn.execute(
                text("SELECT id, agency_id, key_hash, roles, created_at FROM keys_api_keys ORDER BY id")
            ).all()
            agencies = conn.execute(text("SELECT id, name, eth_address FROM keys_agencies ORDER BY id")).all()
            log = conn.execute(text("SELECT id, at, action, detail FROM xacthuc_audit_log ORDER BY id")).all()
        return {
            "api_keys": [tuple(r) for r in keys],
            "agencies": [tuple(r) for r in agencies],
            "audit": [tuple(r) for r in log],
        }
    finally:
        engine.dispose()


def test_backup_never_overwrites_a_file(city: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, url = city
    out = tmp_path / "exists.xbk"
    out.write_bytes(b"precious")
    code, result = _run(["backup", "create", str(out), "--data-dir", str(data_dir)], XACTHUC_DATABASE_URL=url)
    assert code == 2 and result["error"]["code"] == "BACKUP_FILE_EXISTS"
    assert out.read_bytes() == b"precious"


def test_backup_refuses_a_passphrase_that_does_not_open_the_keystore(city: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, url = city
    out = tmp_path / "never.xbk"
    code, result = _run(
        ["backup", "create", str(out), "--data-dir", str(data_dir)],
        XACTHUC_DATABASE_URL=url,
        XACTHUC_KEYSTORE_PASSPHRASE="a mistyped passphrase",
    )
    assert code == 2 and result["error"]["code"] == "KEYSTORE_UNLOCK_FAILED"
    assert not out.exists()


def test_agency_api_keys_still_authenticate_after_restore(backup: Path, tmp_path: Path) -> None:
    code, result = _restore(backup, tmp_path / "new")
    assert code == 0, result
    creds = json.loads((tmp_path / "new" / "dev-credentials.json").read_text(encoding="utf-8"))
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'xacthuc.db'}")
    try:
        with Session(engine) as session:
            principal = ag.authenticate(session, creds["agencies"][0]["api_key"])
        assert principal.agency_id == creds["agencies"][0]["id"]
    finally:
        engine.dispose()


def _agency_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM keys_agencies")).scalar_one())
    finally:
        engine.dispose()


def test_backup_while_the_service_writes_is_one_consistent_snapshot(
    city: tuple[Path, str], engine: Engine, tmp_path: Path
) -> None:
    """Another connection commits agencies throughout the backup: the backup holds exactly the rows of one moment
    (the counts the manifest announces match the rows dumped, or the restore would refuse it as damaged), between
    what was there when it began and when it ended."""
    data_dir, url = city
    stop, written = threading.Event(), [0]

    def writer() -> None:
        while not stop.is_set():
            with Session(engine) as session:
                ag.create_agency(session, name=f"Phường {written[0]}", roles=[], now=NOW, agency_id=f"p{written[0]}")
                session.commit()
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while written[0] < 20:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.01)
        at_start = _agency_count(url)
        out = tmp_path / "busy.xbk"
        code, result = _run(["backup", "create", str(out), "--data-dir", str(data_dir)], XACTHUC_DATABASE_URL=url)
        at_end = _agency_count(url)
    finally:
        stop.set()
        thread.join()
    assert code == 0, result
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    code, restored = _restore(out, tmp_path / "new", database_url=target)
    assert code == 0, restored
    assert at_start <= _agency_count(target) <= at_end


def test_include_dev_chain_adds_the_embedded_node_state(city: tuple[Path, str], tmp_path: Path) -> None:
    data_dir, url = city
    out = tmp_path / "dev.xbk"
    args = ["backup", "create", str(out), "--data-dir", str(data_dir), "--include-dev-chain"]
    code, made = _run(args, XACTHUC_DATABASE_URL=url)
    assert code == 0 and "anvil/state.json" in made["files"], made
    code, result = _restore(out, tmp_path / "dev")
    assert code == 0, result
    assert (tmp_path / "dev" / "anvil" / "state.json").read_text() == "{}"
