"""The one builder (``xacthuc.services.build_services``): each role gets what it needs and nothing more."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from keys.bootstrap import create_city
from keys.errors import CityNotFound, KeystoreExists
from keys.keystore import TEST_KDF
from xacthuc.database import make_engine, migrate
from xacthuc.services import Role, build_services
from xacthuc.settings import Settings

PASSPHRASE = "a keystore passphrase for the builder tests"
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("XACTHUC_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))


def _settings(data_dir: Path, **kw: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **kw)


@pytest.fixture
def city_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    engine = make_engine(_settings(data_dir).resolved_database_url())
    migrate(engine)
    with Session(engine) as session:
        create_city(data_dir, session, PASSPHRASE, NOW, kdf=TEST_KDF, demo=False)
        session.commit()
    engine.dispose()
    data_dir.chmod(0o750)
    return data_dir


def test_a_verifier_reads_without_the_passphrase_and_can_write_nothing(city_dir: Path) -> None:
    services = build_services(_settings(city_dir), role=Role.VERIFIER)  # no passphrase anywhere: none is asked
    try:
        assert services.city is None and services.registry_client is None
        with services.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM keys_agencies")).scalar_one() == 1  # the city's own row
            with pytest.raises(OperationalError, match="readonly"):
                conn.execute(text("DELETE FROM keys_agencies"))
    finally:
        services.close()
    assert city_dir.stat().st_mode & 0o777 == 0o750  # the data dir as it was found


def test_a_reader_leaves_the_keys_locked_and_the_data_dir_as_it_was(city_dir: Path) -> None:
    services = build_services(_settings(city_dir), role=Role.READER)
    services.close()
    assert services.city is None and city_dir.stat().st_mode & 0o777 == 0o750


def test_keys_unlocks_the_city_without_a_chain(city_dir: Path) -> None:
    services = build_services(_settings(city_dir, keystore_passphrase=PASSPHRASE), role=Role.KEYS)
    try:
        assert services.require_city().root_signer.kid and services.chain is None
    finally:
        services.close()


@pytest.mark.parametrize("role", [Role.VERIFIER, Role.READER, Role.KEYS, Role.WORKER])
def test_every_role_but_new_city_refuses_a_data_dir_without_a_city(tmp_path: Path, role: Role) -> None:
    stray = tmp_path / "stray"
    with pytest.raises(CityNotFound):
        build_services(_settings(stray, keystore_passphrase=PASSPHRASE), role=role)
    assert not stray.exists()


def test_new_city_refuses_a_data_dir_that_holds_one_before_asking_for_a_passphrase(city_dir: Path) -> None:
    with pytest.raises(KeystoreExists):
        build_services(_settings(city_dir), role=Role.NEW_CITY)  # no passphrase: it would be refused otherwise
