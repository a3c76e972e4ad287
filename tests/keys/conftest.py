from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

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
def session() -> Iterator[Session]:
    import keys.agencies  # noqa: F401  (registers the tables)

    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture
def city(tmp_path: Path, session: Session) -> City:
    return bootstrap_city(tmp_path / "data", session, PASSPHRASE, NOW, kdf=TEST_KDF)
