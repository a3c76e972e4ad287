"""Issue 14, chain failover, against real nodes: ``XACTHUC_RPC_URL`` names two anvil processes and the first is killed.

Two anvil processes cannot share a chain, and a fork (``anvil --fork-url``) is no stand-in for a second node: it
fetches the state it has not cached from the node it forks, so it stops answering reads of the registry the moment
that node dies, which is exactly the case under test. Instead the two nodes are two independent anvils of one chain
id that are kept identical the way a network keeps its nodes identical: every transaction is signed once and its
bytes are sent to both (``_broadcast_to_both``), so the registry has the same address and the same anchors on both.
Then the first is SIGKILLed, and reads, a broadcast (signed once, sent through the failover), ``/readyz`` and
``xacthuc chain status`` go on with the second. The switching rules themselves (order, back-off, recovery) are
unit-tested with a clock in tests/ledger/test_rpc_failover.py; here a clock is passed in too, so the recovery of the
first node is driven without waiting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlmodel import Session
from web3 import HTTPProvider, Web3

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain._jsonrpc import request as bare_request
from ledger.chain.client import DEPLOY_GAS_LIMIT, RegistryClient
from ledger.chain.merkle import keccak256
from ledger.chain.rpc_failover import FailoverHTTPProvider, endpoint_statuses
from ledger.chain.rpc_transport import DeadlineHTTPProvider
from ledger.errors import RpcChainMismatch
from tests.plugins.chain import anvil_binary
from xacthuc.app import create_app
from xacthuc.chainsetup import connect
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "a passphrase for the failover tests"
BACKOFF = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Chain:
    """Two anvils of one chain holding the same registry."""

    first: AnvilNode
    second: AnvilNode
    address: str
    from_block: int

    @property
    def rpc_url(self) -> str:
        return f"{self.first.url},{self.second.url}"


@pytest.fixture
def nodes() -> Iterator[list[AnvilNode]]:
    started = [AnvilNode(anvil_binary()).start(), AnvilNode(anvil_binary()).start()]
    try:
        yield started
    finally:
        for node in started:
            node.stop()


def _broadcast_to_both(nodes: list[AnvilNode], raw: bytes) -> bytes:
    """What a network does with a transaction: every node gets the same signed bytes (and mines them)."""
    tx_hash = keccak256(raw)
    for node in nodes:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 10}))
        w3.eth.send_raw_transaction(raw)
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 1  # type: ignore[arg-type]
    return tx_hash


def _mirror_deploy(nodes: list[AnvilNode], deployer: LocalAccount, admin: str, *funded: str) -> Chain:
    for node in nodes:
        for address in (deployer.address, *funded):
            fund(node.url, address, 10**21)
    signer = RegistryClient(Web3(HTTPProvider(nodes[0].url)), "0x" + "00" * 20)
    tx = {"data": signer.artifact.encode_deploy(Web3.to_checksum_address(admin)), "gas": DEPLOY_GAS_LIMIT}
    signed = signer.sign(deployer, tx, signer.pending_nonce(deployer.address))
    tx_hash = _broadcast_to_both(nodes, signed.raw)
    receipts = [Web3(HTTPProvider(n.url)).eth.get_transaction_receipt(tx_hash) for n in nodes]  # type: ignore[arg-type]
    assert receipts[0]["contractAddress"] == receipts[1]["contractAddress"] is not None
    return Chain(nodes[0], nodes[1], str(receipts[0]["contractAddress"]), int(receipts[0]["blockNumber"]))


def _mirror_anchor(chain: Chain, account: LocalAccount, root: bytes) -> None:
    signer = RegistryClient(Web3(HTTPProvider(chain.first.url)), chain.address)
    signed = signer.sign_anchor(account, root, 1, signer.pending_nonce(account.address))
    _broadcast_to_both([chain.first, chain.second], signed.raw)


def _failover_client(chain: Chain, clock: Clock) -> tuple[RegistryClient, FailoverHTTPProvider]:
    endpoints = [DeadlineHTTPProvider(node.url, timeout=5.0) for node in (chain.first, chain.second)]
    provider = FailoverHTTPProvider(endpoints, backoff=BACKOFF, clock=clock)
    assert provider.check_chain_ids() == 31337
    return RegistryClient(Web3(provider), chain.address, from_block=chain.from_block), provider


def _in_use(provider: object) -> str | None:
    return next((s.url for s in endpoint_statuses(provider) if s.in_use), None)


def test_reads_continue_on_the_second_node_when_the_first_is_killed_and_a_broadcast_goes_through_it(
    nodes: list[AnvilNode], deployer: LocalAccount, agency_accounts: list[LocalAccount]
) -> None:
    agency = agency_accounts[0]
    chain = _mirror_deploy(nodes, deployer, deployer.address, agency.address)
    first_root, second_root = keccak256(b"batch one"), keccak256(b"batch two")
    _mirror_anchor(chain, agency, first_root)
    client, provider = _failover_client(chain, Clock())
    assert client.anchor_record(agency.address, first_root) is not None
    assert _in_use(provider) == chain.first.url

    chain.first.kill()  # SIGKILL, as a crash

    record = client.anchor_record(agency.address, first_root)  # the same read, answered by the second node
    assert record is not None and record.count == 1
    assert client.block_number >= chain.from_block
    assert _in_use(provider) == chain.second.url
    assert [(s.url, s.up) for s in provider.statuses()] == [(chain.first.url, False), (chain.second.url, True)]

    # A broadcast: simulated, signed once, sent and waited for through the failover provider, on the second node.
    result = client.anchor(agency, second_root, 1, timeout=30)
    assert result.already_anchored is False and result.tx_hash is not None
    direct = RegistryClient(Web3(HTTPProvider(chain.second.url)), chain.address)
    assert direct.anchor_record(agency.address, second_root) is not None
    assert direct.transaction_known(result.tx_hash)


def test_the_first_node_is_used_again_once_it_is_back_and_its_backoff_has_passed(
    nodes: list[AnvilNode], deployer: LocalAccount
) -> None:
    chain = _mirror_deploy(nodes, deployer, deployer.address)
    clock = Clock()
    _, provider = _failover_client(chain, clock)
    chain.first.kill()
    assert bare_request(provider, "eth_blockNumber", []) is not None
    assert _in_use(provider) == chain.second.url
    chain.first.start()  # back on its port (an empty chain of the same id: only the switch is looked at here)
    assert bare_request(provider, "eth_blockNumber", []) is not None
    assert _in_use(provider) == chain.second.url  # its back-off still runs
    clock.now += BACKOFF
    assert bare_request(provider, "eth_blockNumber", []) is not None
    assert _in_use(provider) == chain.first.url
    assert all(s.up for s in provider.statuses())


def test_endpoints_of_different_chains_are_refused_at_start(nodes: list[AnvilNode], tmp_path: Path) -> None:
    with AnvilNode(anvil_binary(), chain_id=4242) as other:
        settings = Settings(_env_file=None, data_dir=tmp_path, rpc_url=f"{nodes[0].url},{other.url}")
        with pytest.raises(RpcChainMismatch) as refused:
            connect(settings)
        assert refused.value.chain_ids == {nodes[0].url: 31337, other.url: 4242}


@dataclass
class City:
    settings: Settings
    env: dict[str, str]
    chain: Chain


@pytest.fixture
def city(tmp_path: Path, nodes: list[AnvilNode], deployer: LocalAccount) -> City:
    """A city whose XACTHUC_RPC_URL names both nodes, its registry on both, its relayer funded on both."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    engine = make_engine(Settings(_env_file=None, data_dir=data_dir).resolved_database_url())
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        keys = bootstrap_city(data_dir, session, PASSPHRASE, datetime.now(UTC), kdf=TEST_KDF, demo=False)
        session.commit()
    engine.dispose()
    chain = _mirror_deploy(nodes, deployer, keys.admin_address, keys.relayer_account.address)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_RPC_URL=chain.rpc_url,
        XACTHUC_REGISTRY_ADDRESS=chain.address,
        XACTHUC_KEYSTORE_PASSPHRASE=PASSPHRASE,
    )
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        rpc_url=chain.rpc_url,
        registry_address=chain.address,
        keystore_passphrase=PASSPHRASE,
        index_max_age=0,
    )
    return City(settings, env, chain)


def _chain_status(env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-c", "from xacthuc.cli import main; main()", "chain", "status", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode()
    return dict(json.loads(done.stdout))


def test_readyz_and_chain_status_name_the_endpoint_in_use_and_those_down(city: City) -> None:
    first, second = city.chain.first.url, city.chain.second.url
    status = _chain_status(city.env)
    assert status["rpc_url"] == first and status["rpc_down"] == []
    services = build_services(city.settings, role=Role.WORKER)
    try:
        with TestClient(create_app(services)) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["rpc"] == {"in_use": first, "down": []}

            city.chain.first.kill()
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["rpc"] == {"in_use": second, "down": [first]}
            assert ready.json()["block"] >= city.chain.from_block

            status = _chain_status(city.env)  # a new process: the first is found down at its start
            assert status["rpc_url"] == second and status["rpc_down"] == [first]
            assert [e["url"] for e in status["rpc_endpoints"]] == [first, second]

            city.chain.second.kill()
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["down"]["chain"] and ready.json()["rpc"] == {"in_use": None, "down": [first, second]}

            city.chain.second.start()  # back (an empty chain of the same id): /readyz recovers by itself
            deadline = time.monotonic() + 60
            while (ready := http.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, f"/readyz never recovered: {ready.text}"
                time.sleep(0.1)
            assert ready.json()["rpc"] == {"in_use": second, "down": [first]}
    finally:
        services.close()


def test_one_url_behaves_as_before(city: City, tmp_path: Path) -> None:
    settings = city.settings.model_copy(update={"rpc_url": city.chain.first.url})
    handle = connect(settings)
    assert type(handle.w3.provider) is DeadlineHTTPProvider
    assert handle.w3.provider.endpoint_uri == city.chain.first.url and handle.url == city.chain.first.url
    registry = RegistryClient(handle.w3, city.chain.address, from_block=city.chain.from_block)
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    migrate(engine)
    services = Services(settings=settings, engine=engine, chain=handle, registry_client=registry)
    try:
        with TestClient(create_app(services)) as http:
            ready = http.get("/readyz").json()
            assert ready["status"] == "ready" and ready["rpc"] == {"in_use": city.chain.first.url, "down": []}
        status = _chain_status({**city.env, "XACTHUC_RPC_URL": city.chain.first.url})
        assert status["rpc_url"] == city.chain.first.url and status["rpc_down"] == []
    finally:
        services.close()
