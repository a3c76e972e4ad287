"""Issue 8 item 5 (the anchoring half): the worker's signing accounts were built once at start, so an agency created
while the server ran kept its documents ``pending`` until a restart. ``AgencyAccounts`` re-reads them when the
keystore changes; an account that cannot pay for an anchor waits, with one clear log line, instead of failing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City, bootstrap_city
from keys.keystore import TEST_KDF, Keystore
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import enqueue
from xacthuc.anchor_accounts import AgencyAccounts

PASSPHRASE = "a passphrase for the anchoring accounts tests"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NEEDED = 10**15


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> datetime:
        return self.t


class Balances:
    """The chain's balances, in memory; an address not set holds plenty."""

    def __init__(self) -> None:
        self.wei: dict[str, int] = {}
        self.asked = 0

    def __call__(self, address: str) -> int:
        self.asked += 1
        return self.wei.get(address, 10**20)


@pytest.fixture
def city(tmp_path: Path, engine: Engine) -> City:
    with Session(engine) as session:
        city = bootstrap_city(tmp_path / "data", session, PASSPHRASE, NOW, kdf=TEST_KDF, demo=True)
        session.commit()
    return city


def _create_in_another_process(city: City, engine: Engine, agency_id: str) -> str:
    """``xacthuc agency create`` while the server runs: its own keystore object on the same files."""
    other = City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))
    with Session(engine, expire_on_commit=False) as session:
        p = other.provision_agency(session, name=f"UBND {agency_id}", roles=["documents"], now=NOW, agency_id=agency_id)
        session.commit()
    assert p.agency.eth_address is not None
    return p.agency.eth_address


def test_agency_created_while_running_is_picked_up_without_restart(city: City, engine: Engine) -> None:
    accounts = AgencyAccounts(city, balance=Balances(), min_balance=lambda: NEEDED, clock=Clock())
    first = accounts()
    assert {city.eth_address("ubnd-hcm"), city.eth_address("ca-hcm")} <= set(first)
    address = _create_in_another_process(city, engine, "ubnd-q3")
    assert address not in first
    assert accounts()[address].address == address


def test_unfunded_account_waits_with_one_clear_log_line(
    city: City, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    balances, clock = Balances(), Clock()
    accounts = AgencyAccounts(city, balance=balances, min_balance=lambda: NEEDED, clock=clock)
    accounts()
    address = _create_in_another_process(city, engine, "ubnd-q3")
    balances.wei[address] = 0
    with caplog.at_level(logging.INFO, logger="xacthuc.anchoring"):
        for _ in range(5):
            assert address not in accounts()
            clock.t += timedelta(seconds=31)  # balances are looked at again every 30 s
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "ubnd-q3" in warnings[0] and address in warnings[0] and "until the account is funded" in warnings[0]
    balances.wei[address] = NEEDED
    with caplog.at_level(logging.INFO, logger="xacthuc.anchoring"):
        assert address in accounts()
    assert any("anchored again" in r.getMessage() for r in caplog.records)


def test_balances_are_not_asked_on_every_pass(city: City) -> None:
    balances, clock = Balances(), Clock()
    accounts = AgencyAccounts(city, balance=balances, min_balance=lambda: NEEDED, clock=clock)
    accounts()
    asked = balances.asked
    for _ in range(10):
        accounts()
    assert balances.asked == asked
    clock.t += timedelta(seconds=30)
    accounts()
    assert balances.asked > asked


def test_a_development_node_funds_new_accounts(city: City, engine: Engine) -> None:
    balances = Balances()
    funded: list[str] = []

    def fund(addresses: list[str]) -> None:
        funded.extend(addresses)
        for a in addresses:
            balances.wei[a] = 10**21

    accounts = AgencyAccounts(city, balance=balances, min_balance=lambda: NEEDED, clock=Clock(), fund=fund)
    accounts()
    address = _create_in_another_process(city, engine, "ubnd-q3")
    balances.wei[address] = 0
    assert address in accounts()
    assert funded[-1] == address


def test_worker_anchors_for_an_account_added_after_it_started(
    city: City, engine: Engine, registry: RegistryClient, agency_accounts: list[Any]
) -> None:
    """The ``Anchorer`` asks a callable source at every pass: a batch of a newly known account is anchored."""
    known: dict[str, Any] = {}
    anchorer = Anchorer(engine, registry, lambda: dict(known), WorkerConfig(batch_max=4, finality_depth=0))
    account = agency_accounts[0]  # funded on the test chain
    with Session(engine) as session:
        enqueue(session, account.address, bytes(32), NOW)
        session.commit()
    anchorer.step(force=True)
    anchorer.step(force=True)
    assert registry.anchor_record(account.address, _root_of_one(bytes(32))) is None  # unknown account: it waits
    known[account.address] = account
    for _ in range(5):
        anchorer.step(force=True)
    assert registry.anchor_record(account.address, _root_of_one(bytes(32))) is not None


def _root_of_one(leaf: bytes) -> bytes:
    from ledger.chain.merkle import MerkleTree

    return MerkleTree([leaf]).root
