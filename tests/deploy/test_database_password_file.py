"""XACTHUC_DATABASE_PASSWORD_FILE: the database password from a file (a compose secret) is put into
XACTHUC_DATABASE_URL, which names none; and the `migrate` service's command brings a database to head with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import xacthuc.models  # noqa: F401  (registers every table on SQLModel.metadata)
from keys.errors import InvalidInput
from tests.deploy.compose_parser import ROOT
from tests.plugins.db import PostgresServer
from xacthuc.database import make_engine
from xacthuc.settings import Settings

URL = "postgresql://xacthuc@db:5432/xacthuc"


def _secret(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "db_password"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_password_file_is_put_into_the_database_url(tmp_path: Path) -> None:
    password = "p@ss:w/rd?#%"  # every character a URL would misread, escaped on the way in
    settings = Settings(database_url=URL, database_password_file=_secret(tmp_path, password + "\n"))
    url = make_url(settings.resolved_database_url())
    assert url.password == password
    assert (url.username, url.host, url.port, url.database) == ("xacthuc", "db", 5432, "xacthuc")
    assert password not in repr(settings)


def test_without_a_password_file_the_url_is_used_as_given() -> None:
    assert Settings(database_url=URL).resolved_database_url() == URL


def test_the_password_file_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XACTHUC_DATABASE_URL", URL)
    monkeypatch.setenv("XACTHUC_DATABASE_PASSWORD_FILE", str(_secret(tmp_path, "from-a-file")))
    assert make_url(Settings().resolved_database_url()).password == "from-a-file"


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    settings = Settings(database_url=URL, database_password_file=_secret(tmp_path, "\n"))
    with pytest.raises(InvalidInput, match="is empty"):
        settings.resolved_database_url()


def test_a_missing_password_file_is_refused_naming_it(tmp_path: Path) -> None:
    settings = Settings(database_url=URL, database_password_file=tmp_path / "absent")
    with pytest.raises(InvalidInput, match=r"cannot read the database password file .*absent"):
        settings.resolved_database_url()


def test_a_url_with_a_password_and_a_password_file_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://xacthuc:other@db/xacthuc", database_password_file=_secret(tmp_path, "x")
    )
    with pytest.raises(InvalidInput, match="names a password"):
        settings.resolved_database_url()


@pytest.mark.postgres
def test_the_migrate_service_command_brings_postgresql_to_head_with_the_password_file(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database().replace("postgresql+psycopg://", "postgresql://")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env |= {
        "XACTHUC_DATABASE_URL": url,
        "XACTHUC_DATABASE_PASSWORD_FILE": str(_secret(tmp_path, "compose-secret\n")),
        "XACTHUC_DATA_DIR": str(tmp_path / "data"),
    }
    alembic = Path(sys.executable).parent / "alembic"
    command = [str(alembic), "-c", "deploy/alembic.ini", "upgrade", "head"]  # as docker-compose.yml's `migrate`
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables  # every table the models declare
    versions = sorted(p.name.split("_", 1)[0] for p in (ROOT / "xacthuc" / "migrations" / "versions").glob("0*.py"))
    assert head == versions[-1]
