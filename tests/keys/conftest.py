from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City, bootstrap_city
from keys.keystore import TEST_KDF, Keystore

PASSPHRASE = "correct horse battery staple 7f3a"
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    return Keystore.create(tmp_path / "keys", PASSPHRASE, kdf=TEST_KDF)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated schema, on SQLite and on PostgreSQL (tests/plugins/db.py)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def city(tmp_path: Path, session: Session) -> City:
    return bootstrap_city(tmp_path / "data", session, PASSPHRASE, NOW, kdf=TEST_KDF)
