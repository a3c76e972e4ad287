"""Issue 8 item 5 (the server half): the server cached its trust list for 30 s, so after ``xacthuc keys rotate`` in
another process its own verifications, the bundles it served and its offline bundle lacked the new key. Now every
cache of the trust list follows the keystore's generation and rebuilds as soon as the keystore changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City, bootstrap_city
from keys.keystore import TEST_KDF, Keystore
from ledger.documents.receipt import encode_payload, sign_receipt
from tests.ledger.test_receipt_fixtures import fields
from verifier.dispatch import VerifyRequest
from xacthuc.offline_bundle import OfflineBundleSource
from xacthuc.server_verifier import ServerVerifier
from xacthuc.services import Services
from xacthuc.settings import Settings

PASSPHRASE = "a passphrase for the server trust tests"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def services(tmp_path: Path, engine: Engine) -> Services:
    with Session(engine) as session:
        city = bootstrap_city(tmp_path / "data", session, PASSPHRASE, T0, kdf=TEST_KDF, demo=True)
        session.commit()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=str(engine.url))
    return Services(settings=settings, engine=engine, city=city, clock=Clock())


def _other_process(city: City) -> City:
    return City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))


def test_server_verifies_a_key_rotated_by_another_process_at_once(services: Services) -> None:
    verifier = ServerVerifier(services)
    old = services.require_city().keyring("ubnd-hcm").signer(T0)
    primed = verifier(
        VerifyRequest(payload=encode_payload(sign_receipt(old, fields(issuer_id="ubnd-hcm", issued_at=T0))))
    )
    assert primed.verdict.value == "pending"  # the server has built its trust list
    assert isinstance(services.clock, Clock)
    services.clock.t = T0 + timedelta(seconds=5)  # well inside the old 30 s cache
    ring = _other_process(services.require_city()).keyring("ubnd-hcm")
    new = ring.rotate(services.clock.t)
    receipt = sign_receipt(ring.signer(services.clock.t), fields(issuer_id="ubnd-hcm", issued_at=services.clock.t))
    report = verifier(VerifyRequest(payload=encode_payload(receipt)))
    checks = {c.name: c for c in report.checks}
    assert checks["issuer_trusted"].status.value == "valid", report.to_dict()
    assert checks["issuer_trusted"].data["kid"] == new.kid
    assert report.verdict.value == "pending"
    assert verifier.trust.fetches == 2  # rebuilt once, on the keystore's change signal


def test_bundles_carry_the_rotated_key_at_once(services: Services) -> None:
    verifier = ServerVerifier(services)
    verifier.trust_list()
    new = _other_process(services.require_city()).keyring("ubnd-hcm").rotate(T0)
    assert verifier.trust_list().resolve("ubnd-hcm", new.kid) is not None


def test_offline_bundle_is_rebuilt_when_the_keystore_changes(services: Services) -> None:
    city = services.require_city()
    builds: list[datetime] = []

    def build(now: datetime) -> str:
        builds.append(now)
        return f"bundle {len(builds)}"

    source = OfflineBundleSource(build, services.clock, generation=city.keystore.generation)
    assert source() == source() == "bundle 1"
    _other_process(city).keyring("ubnd-hcm").rotate(T0)
    assert source() == "bundle 2"
