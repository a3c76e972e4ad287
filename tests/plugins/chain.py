"""Chain fixtures: an in-process eth-tester chain (fast, unit tests) and a real anvil process (integration tests).

The same deterministic accounts are funded on both backends, so a test can run on either:

* ``deployer``: deploys the registry and is its city admin;
* ``agency_accounts``: three agency accounts (``[0]`` is the usual anchorer, ``[1]`` the "other agency").

eth-tester: ``w3_tester``, ``registry``. anvil (mark the test ``@pytest.mark.anvil``): ``anvil`` (a started
AnvilNode persisting to a temporary state file, stopped afterwards), ``anvil_w3``, ``anvil_registry``. The anvil
binary is ``XACTHUC_ANVIL_BIN`` if set, else the pinned npm one; a missing binary fails the test rather than
skipping it, so CI cannot pass without the integration tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, HTTPProvider, Web3

from ledger.chain.client import RegistryClient
from ledger.chain.merkle import keccak256
from xacthuc.devchain import AnvilNode, find_anvil_binary, fund

AGENCY_COUNT = 3
FUNDING_WEI = 10**21


def _account(label: str) -> LocalAccount:
    key = keccak256(f"xacthuc test account {label}".encode())
    return Account.from_key(key)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def deployer() -> LocalAccount:
    """The account that deploys the registry; also its city admin."""
    return _account("deployer")


@pytest.fixture(scope="session")
def agency_accounts() -> list[LocalAccount]:
    """Three agency accounts, funded on every chain fixture."""
    return [_account(f"agency {i}") for i in range(AGENCY_COUNT)]


def _test_accounts(deployer: LocalAccount, agencies: list[LocalAccount]) -> list[LocalAccount]:
    return [deployer, *agencies]


@pytest.fixture
def w3_tester(deployer: LocalAccount, agency_accounts: list[LocalAccount]) -> Web3:
    """A fresh in-process eth-tester chain (py-evm) with the test accounts funded."""
    w3 = Web3(EthereumTesterProvider())
    rich = w3.eth.accounts[0]
    for account in _test_accounts(deployer, agency_accounts):
        tx_hash = w3.eth.send_transaction({"from": rich, "to": account.address, "value": FUNDING_WEI})
        w3.eth.wait_for_transaction_receipt(tx_hash)
    return w3


@pytest.fixture
def registry(w3_tester: Web3, deployer: LocalAccount) -> RegistryClient:
    """A DocumentRegistry deployed on eth-tester; the deployer is its admin."""
    return RegistryClient.deploy(w3_tester, deployer, deployer.address, timeout=10)


def anvil_binary() -> Path:
    """The anvil binary the tests use (XACTHUC_ANVIL_BIN, else the pinned npm one)."""
    return find_anvil_binary(os.environ.get("XACTHUC_ANVIL_BIN") or None)


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    """A real anvil process with its state in a temporary file; always stopped (and reaped) afterwards."""
    node = AnvilNode(anvil_binary(), state_file=tmp_path / "anvil" / "state.json")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def anvil_w3(anvil: AnvilNode, deployer: LocalAccount, agency_accounts: list[LocalAccount]) -> Web3:
    """Web3 over HTTP to the ``anvil`` node, with the test accounts funded."""
    for account in _test_accounts(deployer, agency_accounts):
        fund(anvil.url, account.address, FUNDING_WEI)
    return Web3(HTTPProvider(anvil.url, request_kwargs={"timeout": 10}))


@pytest.fixture
def anvil_registry(anvil_w3: Web3, deployer: LocalAccount) -> RegistryClient:
    """A DocumentRegistry deployed on the ``anvil`` node; the deployer is its admin."""
    return RegistryClient.deploy(anvil_w3, deployer, deployer.address, timeout=10)
