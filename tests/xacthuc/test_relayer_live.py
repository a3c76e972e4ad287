"""Issue 10, on a real anvil: an anchoring account that cannot pay is visible, and once funded the waiting batches go
out without a restart.

Before, ``xacthuc agency create`` made an Ethereum account with no funds: its documents stayed ``pending`` for
ever, nothing was logged, ``/readyz`` said ready and ``xacthuc anchor --wait`` hung. Now the city's one relayer
sends for every agency (whose own account holds nothing), and while the relayer cannot pay: the batch carries
``ANCHOR_ACCOUNT_UNFUNDED``, the log says so once, ``/metrics`` shows its balance and the oldest waiting leaf's
age, ``/readyz`` answers 200 ``degraded`` naming it, and ``anchor --wait`` exits 2 with the error. A node that is
not our own development node (here: ``XACTHUC_RPC_URL``) is never funded by us.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from sqlmodel import Session, select
from web3 import Web3

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import AnchorBatch, BatchState, enqueue
from ledger.errors import AnchorAccountUnfunded
from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "a passphrase for the relayer tests"
LEAF = bytes([9]) * 32


@dataclass
class City:
    settings: Settings
    agency: str  # the agency's address: it holds no ether
    registry: RegistryClient
    env: dict[str, str]


@pytest.fixture
def city(tmp_path: Path, anvil: AnvilNode, anvil_w3: Web3, deployer: LocalAccount) -> City:
    """A production-like city on an anvil that is not ours: a registry deployed, one agency, nothing funded."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    engine = make_engine(Settings(_env_file=None, data_dir=data_dir).resolved_database_url())
    migrate(engine)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        keys = bootstrap_city(data_dir, session, PASSPHRASE, now, kdf=TEST_KDF, demo=False)
        agency = keys.provision_agency(session, name="UBND Quận 3", roles=["documents"], now=now, agency_id="ubnd-q3")
        session.commit()
    engine.dispose()
    registry = RegistryClient.deploy(anvil_w3, deployer, keys.admin_address, timeout=10)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_RPC_URL=anvil.url,
        XACTHUC_REGISTRY_ADDRESS=registry.address,
        XACTHUC_KEYSTORE_PASSPHRASE=PASSPHRASE,
        XACTHUC_BATCH_INTERVAL="0.1",
    )
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        rpc_url=anvil.url,
        registry_address=registry.address,
        keystore_passphrase=PASSPHRASE,
        batch_interval=0.1,
        index_max_age=0,
    )
    assert agency.agency.eth_address is not None
    return City(settings, agency.agency.eth_address, registry, env)


@pytest.fixture
def services(city: City) -> Iterator[Services]:
    built = build_services(city.settings, role=Role.WORKER)
    try:
        yield built
    finally:
        built.close()


def _xacthuc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=180)


def _batch(services: Services) -> AnchorBatch | None:
    with Session(services.engine) as session:
        return session.exec(select(AnchorBatch)).first()


def _wait_for(what: str, condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_unfunded_relayer_fails_visibly_and_anchors_once_funded_without_restart(
    city: City, services: Services, anvil: AnvilNode, anvil_w3: Web3, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xacthuc.anchoring")
    accounts = services.anchor_accounts
    assert accounts is not None
    relayer = accounts.relayer_address
    assert anvil_w3.eth.get_balance(Web3.to_checksum_address(relayer)) == 0  # not our node: nobody funds it
    with Session(services.engine) as session:
        enqueue(session, city.agency, LEAF, datetime.now(UTC))
        session.commit()

    # xacthuc anchor --wait: exit 2 with the reason, at once, instead of hanging until its timeout
    started = time.monotonic()
    done = _xacthuc(city.env, "anchor", "--wait", "--timeout", "600", "--json")
    assert done.returncode == 2, done.stderr.decode()
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "ANCHOR_ACCOUNT_UNFUNDED" and error["account"] == relayer
    assert relayer in error["message"] and "0 wei" in error["message"]
    assert time.monotonic() - started < 600
    batch = _batch(services)  # the command cut the batch; it waits, carrying the error
    assert batch is not None and batch.state == BatchState.BUILT and batch.nonce is None
    assert batch.last_error is not None and batch.last_error.startswith("ANCHOR_ACCOUNT_UNFUNDED")

    with pytest.raises(AnchorAccountUnfunded):  # what `anchor --wait` in this process meets too
        services.drive_outbox(lambda s: 1, wait=True, timeout=600)

    with TestClient(create_app(services)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200  # verifications still work: a load balancer must keep the replica
        body = ready.json()
        assert body["status"] == "degraded"
        assert [(d["account"], d["code"]) for d in body["degraded"]] == [(relayer, "ANCHOR_ACCOUNT_UNFUNDED")]
        metrics = client.get("/metrics").text
        assert f'xacthuc_anchor_account_balance_wei{{account="{relayer}"}} 0.0' in metrics
        oldest = [line for line in metrics.splitlines() if line.startswith("xacthuc_oldest_pending_leaf_seconds ")]
        assert len(oldest) == 1 and float(oldest[0].split()[1]) > 0

        services.start_worker()
        checked = accounts._checked_at
        _wait_for("a second look at the balance", lambda: accounts._checked_at != checked)
        assert _batch(services).state == BatchState.BUILT  # type: ignore[union-attr]

        fund(anvil.url, relayer, 10**20)  # the operator funds the relayer; nothing is restarted
        _wait_for(
            "the batch to be confirmed",
            lambda: getattr(_batch(services), "state", None) in (BatchState.CONFIRMED, BatchState.FINAL),
        )
        assert client.get("/readyz").json()["status"] == "ready"
        metrics = client.get("/metrics").text
        assert "xacthuc_oldest_pending_leaf_seconds 0.0" in metrics

    batch = _batch(services)
    assert batch is not None and batch.sender == relayer and batch.account == city.agency and batch.last_error is None
    assert city.registry.anchor_record(city.agency, MerkleTree([LEAF]).root) is not None  # recorded under the agency
    assert batch.tx_hash is not None
    tx = anvil_w3.eth.get_transaction(HexBytes(batch.tx_hash))
    assert tx["from"] == relayer
    assert anvil_w3.eth.get_balance(Web3.to_checksum_address(city.agency)) == 0  # the agency never needed ether
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("ANCHOR_ACCOUNT_UNFUNDED" in w for w in warnings) == 1, warnings  # one line, not one per pass
    assert any("is funded" in r.getMessage() for r in caplog.records)


def test_chain_status_names_the_relayer_and_its_funds(city: City, anvil: AnvilNode) -> None:
    done = _xacthuc(city.env, "chain", "status", "--json")
    assert done.returncode == 0, done.stderr.decode()
    status = json.loads(done.stdout)
    assert status["relayer_funded"] is False and status["relayer_balance_wei"] == "0"
    fund(anvil.url, status["relayer"], 10**20)
    status = json.loads(_xacthuc(city.env, "chain", "status", "--json").stdout)
    assert status["relayer_funded"] is True and status["relayer_balance_wei"] == str(10**20)
