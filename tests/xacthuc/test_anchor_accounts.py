"""The worker's accounts (issue 8 item 5, issue 10's gas model): every agency's account, re-read when the keystore
changes so an agency created while the server runs anchors without a restart, and the city's relayer, which sends
(and pays for) every agency's transactions. Agencies need no funds. A relayer that cannot pay is visible: a typed
``ANCHOR_ACCOUNT_UNFUNDED`` naming it, its balance and what one anchor needs, one log line (not one per pass), and
the batches wait, marked with the error, until it is funded; then they go out without a restart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keys.bootstrap import RELAYER_ACCOUNT, City, bootstrap_city
from keys.keystore import TEST_KDF, Keystore
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import AnchorBatch, BatchState, enqueue
from ledger.errors import AnchorAccountUnfunded
from xacthuc.anchor_accounts import AnchorAccounts

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
        self.asked: list[str] = []

    def __call__(self, address: str) -> int:
        self.asked.append(address)
        return self.wei.get(address, 10**20)


@pytest.fixture
def city(tmp_path: Path, engine: Engine) -> City:
    with Session(engine) as session:
        city = bootstrap_city(tmp_path / "data", session, PASSPHRASE, NOW, kdf=TEST_KDF, demo=True)
        session.commit()
    return city


def accounts_of(city: City, balances: Balances, clock: Clock, **kwargs: Any) -> AnchorAccounts:
    return AnchorAccounts(city, balance=balances, min_balance=lambda: NEEDED, clock=clock, **kwargs)


def _create_in_another_process(city: City, engine: Engine, agency_id: str) -> str:
    """``xacthuc agency create`` while the server runs: its own keystore object on the same files."""
    other = City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))
    with Session(engine, expire_on_commit=False) as session:
        p = other.provision_agency(session, name=f"UBND {agency_id}", roles=["documents"], now=NOW, agency_id=agency_id)
        session.commit()
    assert p.agency.eth_address is not None
    return p.agency.eth_address


def test_agency_created_while_running_is_picked_up_without_restart(city: City, engine: Engine) -> None:
    accounts = accounts_of(city, Balances(), Clock())
    first = accounts()
    assert {city.eth_address("ubnd-hcm"), city.eth_address("ca-hcm")} <= set(first)
    address = _create_in_another_process(city, engine, "ubnd-q3")
    assert address not in first
    assert accounts()[address].address == address


def test_agencies_need_no_funds(city: City, engine: Engine) -> None:
    balances = Balances()
    accounts = accounts_of(city, balances, Clock())
    address = _create_in_another_process(city, engine, "ubnd-q3")
    balances.wei[address] = 0
    assert address in accounts()
    accounts.relayer()
    assert set(balances.asked) == {city.relayer_account.address}  # only the relayer's balance matters


def test_unfunded_relayer_is_a_typed_error_with_one_log_line(city: City, caplog: pytest.LogCaptureFixture) -> None:
    balances, clock = Balances(), Clock()
    relayer = city.relayer_account.address
    balances.wei[relayer] = 12
    accounts = accounts_of(city, balances, clock)
    with caplog.at_level(logging.INFO, logger="xacthuc.anchoring"):
        for _ in range(5):
            with pytest.raises(AnchorAccountUnfunded) as info:
                accounts.relayer()
            clock.t += timedelta(seconds=3)  # past the unfunded recheck: the balance is read again each time
    error = info.value
    assert (error.code, error.http_status) == ("ANCHOR_ACCOUNT_UNFUNDED", 503)
    assert (error.account, error.balance, error.needed) == (relayer, 12, NEEDED)
    assert relayer in error.message and str(NEEDED) in error.message and "without a restart" in error.message
    assert error.to_dict()["account"] == relayer
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "ANCHOR_ACCOUNT_UNFUNDED" in warnings[0] and relayer in warnings[0]
    assert [p.account for p in accounts.problems()] == [relayer]
    assert accounts.balances() == {relayer: 12}
    balances.wei[relayer] = NEEDED
    clock.t += timedelta(seconds=3)
    with caplog.at_level(logging.INFO, logger="xacthuc.anchoring"):
        assert accounts.relayer().address == relayer
    assert accounts.problems() == []
    assert any("is funded" in r.getMessage() for r in caplog.records)


def test_balance_is_not_asked_on_every_pass(city: City) -> None:
    balances, clock = Balances(), Clock()
    accounts = accounts_of(city, balances, clock)
    accounts.relayer()
    asked = len(balances.asked)
    for _ in range(10):
        accounts()
        accounts.relayer()
    assert len(balances.asked) == asked
    clock.t += timedelta(seconds=30)
    accounts.relayer()
    assert len(balances.asked) > asked


def test_a_development_node_funds_the_relayer(city: City) -> None:
    balances = Balances()
    funded: list[str] = []

    def fund(addresses: list[str]) -> None:
        funded.extend(addresses)
        for a in addresses:
            balances.wei[a] = 10**21

    relayer = city.relayer_account.address
    balances.wei[relayer] = 0
    accounts = accounts_of(city, balances, Clock(), fund=fund)
    assert accounts.relayer().address == relayer
    assert funded == [relayer]


def test_relayer_is_created_on_first_use_for_an_older_data_dir(city: City) -> None:
    """A data dir from before the relayer existed gets one the first time it is needed, and only one."""
    (city.keystore.root / "eth" / f"{RELAYER_ACCOUNT}.json").unlink()
    fresh = City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))
    created = fresh.relayer_account.address
    again = City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))
    assert again.relayer_account.address == created
    assert RELAYER_ACCOUNT in again.keystore.eth_names()


# --- the worker -----------------------------------------------------------------------------------------------------


def _root_of_one(leaf: bytes) -> bytes:
    return MerkleTree([leaf]).root


def _enqueue(engine: Engine, agency: str, leaf: bytes) -> None:
    with Session(engine) as session:
        enqueue(session, agency, leaf, NOW)
        session.commit()


def test_worker_anchors_for_an_account_added_after_it_started(
    engine: Engine, registry: RegistryClient, agency_accounts: list[Any]
) -> None:
    """The ``Anchorer`` asks a callable source at every pass: a batch of a newly known account is anchored."""
    known: dict[str, Any] = {}
    relayer = agency_accounts[2]
    config = WorkerConfig(batch_max=4, finality_depth=0)
    anchorer = Anchorer(engine, registry, lambda: dict(known), config, relayer=relayer)
    agency = Account.create()  # holds nothing
    _enqueue(engine, agency.address, bytes(32))
    anchorer.step(force=True)
    anchorer.step(force=True)
    assert registry.anchor_record(agency.address, _root_of_one(bytes(32))) is None  # unknown account: it waits
    known[agency.address] = agency
    for _ in range(5):
        anchorer.step(force=True)
    assert registry.anchor_record(agency.address, _root_of_one(bytes(32))) is not None


def test_relayer_sends_every_agencys_batches_with_its_own_nonces(
    engine: Engine, registry: RegistryClient, agency_accounts: list[Any]
) -> None:
    relayer = agency_accounts[2]
    agencies = [Account.create(), Account.create()]
    anchorer = Anchorer(
        engine, registry, {a.address: a for a in agencies}, WorkerConfig(finality_depth=100), relayer=relayer
    )
    nonce = registry.pending_nonce(relayer.address)
    for i, agency in enumerate(agencies):
        _enqueue(engine, agency.address, bytes([i + 1]) * 32)
    for _ in range(4):
        anchorer.step(force=True)
    with Session(engine) as session:
        batches = session.exec(select(AnchorBatch).order_by(AnchorBatch.id)).all()  # type: ignore[arg-type]
    assert [b.state for b in batches] == [BatchState.CONFIRMED] * 2
    assert sorted(b.account for b in batches) == sorted(a.address for a in agencies)  # whose record: the agency's
    assert [b.sender for b in batches] == [relayer.address] * 2  # who sent: the relayer
    assert sorted(b.nonce or 0 for b in batches) == [nonce, nonce + 1]  # the relayer's one nonce sequence
    for i, agency in enumerate(agencies):
        assert registry.anchor_record(agency.address, _root_of_one(bytes([i + 1]) * 32)) is not None
        assert registry.w3.eth.get_balance(agency.address) == 0


class _Relayer:
    """A relayer source that cannot pay until told otherwise."""

    def __init__(self, account: Any) -> None:
        self.account = account
        self.funded = False

    def __call__(self) -> Any:
        if not self.funded:
            raise AnchorAccountUnfunded(self.account.address, 0, NEEDED)
        return self.account


def test_unfunded_relayer_leaves_batches_built_with_the_error_then_sends_them(
    engine: Engine, registry: RegistryClient, agency_accounts: list[Any]
) -> None:
    source = _Relayer(agency_accounts[2])
    agency = Account.create()
    anchorer = Anchorer(engine, registry, {agency.address: agency}, WorkerConfig(finality_depth=100), relayer=source)
    _enqueue(engine, agency.address, bytes([7]) * 32)
    nonce = registry.pending_nonce(source.account.address)
    reports = [anchorer.step(force=True) for _ in range(3)]
    assert all(r.unfunded is not None and r.unfunded.code == "ANCHOR_ACCOUNT_UNFUNDED" for r in reports)
    with Session(engine) as session:
        (batch,) = session.exec(select(AnchorBatch)).all()
    assert batch.state == BatchState.BUILT and batch.nonce is None
    assert batch.last_error is not None and batch.last_error.startswith("ANCHOR_ACCOUNT_UNFUNDED: ")
    assert source.account.address in batch.last_error
    assert registry.pending_nonce(source.account.address) == nonce  # nothing was sent
    source.funded = True  # no restart: the next passes send it
    for _ in range(3):
        anchorer.step(force=True)
    with Session(engine) as session:
        (batch,) = session.exec(select(AnchorBatch)).all()
    assert batch.state == BatchState.CONFIRMED and batch.last_error is None
    assert registry.anchor_record(agency.address, _root_of_one(bytes([7]) * 32)) is not None
