"""The real anvil process: lifecycle, no orphans, and a chain that survives SIGKILL (``--state-interval 1``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree, keccak256
from ledger.chain.proof import RevocationReason
from ledger.errors import ChainUnavailable, NotAnchorer
from tests.plugins.chain import anvil_binary
from xacthuc.devchain import AnvilError, AnvilNode, anvil_rpc, find_anvil_binary, mine

pytestmark = pytest.mark.anvil


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_start_stop_reaps_the_process(tmp_path: Path) -> None:
    with AnvilNode(anvil_binary(), state_file=tmp_path / "state.json", chain_id=4242) as node:
        pid = node.pid
        assert pid is not None and node.running
        assert int(anvil_rpc(node.url, "eth_chainId"), 16) == 4242
    assert not node.running and process_gone(pid)
    assert (tmp_path / "state.json").exists()  # SIGTERM lets anvil write its state one last time


def test_kill_reaps_and_restart_uses_same_port(tmp_path: Path) -> None:
    node = AnvilNode(anvil_binary()).start()
    try:
        url, pid = node.url, node.pid
        assert pid is not None
        node.kill()
        assert process_gone(pid)
        node.start()
        assert node.url == url and node.pid != pid
        node.restart()
        assert node.running
    finally:
        node.stop()
    node.stop()  # idempotent


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnvilError, match="not found"):
        find_anvil_binary(tmp_path / "no-anvil")
    with pytest.raises(AnvilError, match="not found"):
        AnvilNode(tmp_path / "no-anvil").start()


def test_failed_start_reports_anvil_stderr(tmp_path: Path) -> None:
    node = AnvilNode(anvil_binary(), extra_args=["--no-such-flag"])
    with pytest.raises(AnvilError, match="no-such-flag"):
        node.start()
    assert not node.running


def test_mine_and_fund_helpers(anvil: AnvilNode, anvil_w3: Web3, agency_accounts: list[LocalAccount]) -> None:
    before = anvil_w3.eth.block_number
    mine(anvil.url, 3)
    assert anvil_w3.eth.block_number == before + 3
    assert anvil_w3.eth.get_balance(agency_accounts[0].address) > 0


def test_sigkill_and_restart_keep_the_chain(
    anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    agency = agency_accounts[0]
    data = [keccak256(f"doc {i}".encode()) for i in range(4)]
    tree = MerkleTree(data)
    result = anvil_registry.anchor(agency, tree.root, 4)
    anvil_registry.revoke(agency, tree.root, data[1], tree.proof(1), RevocationReason.ANNULLED)
    head = anvil_registry.block_number
    # Anything mined after the last state dump (up to ~1 s) would be lost: wait for a dump that follows our txs.
    anvil.wait_for_state_dump(after=time.time())
    anvil.kill()
    with pytest.raises(ChainUnavailable):
        _ = anvil_registry.block_number
    anvil.start()
    assert anvil_registry.block_number == head
    record = anvil_registry.anchor_record(agency.address, tree.root)
    assert record == result.record
    assert anvil_registry.status(agency.address, tree.root, data[1]).reason is RevocationReason.ANNULLED
    assert anvil_registry.find_anchor_tx(agency.address, tree.root) == result.tx_hash
    # The chain goes on from there: nonces, new anchors, and status-0 replays after a reload.
    b = agency_accounts[1]
    with pytest.raises(NotAnchorer):
        anvil_registry.revoke(b, tree.root, data[2], tree.proof(2), RevocationReason.ANNULLED, agency=agency.address)
    signed = anvil_registry.sign_revoke(
        b, tree.root, data[2], tree.proof(2), 1, None, anvil_registry.pending_nonce(b.address), agency=agency.address
    )
    receipt = anvil_registry.wait_for_receipt(anvil_registry.send_raw(signed.raw), timeout=10)
    with pytest.raises(NotAnchorer):
        anvil_registry.raise_for_status(receipt)
    assert anvil_registry.anchor(agency, keccak256(b"after restart"), 1).record.agency == agency.address


def test_separate_client_sees_same_chain(anvil: AnvilNode, anvil_registry: RegistryClient) -> None:
    other = RegistryClient(Web3(HTTPProvider(anvil.url)), anvil_registry.address)
    assert other.chain_id == 31337 and other.admin() == anvil_registry.admin()
