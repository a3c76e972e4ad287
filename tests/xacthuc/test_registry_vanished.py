"""Issue 8, item 6 (the registry part): a recorded registry that is missing from the chain.

Before, ``serve`` deployed a fresh registry with only a warning, and every stored anchor and revocation silently
pointed at a chain that no longer existed (documents ``anchored`` in the database, unknown on chain). Now outside
development mode this is a hard typed error (``REGISTRY_MISSING``), and in development mode a new registry is
deployed and every stored batch and revocation is put back in the outbox, so all of it is anchored again; the log
says so.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from web3 import Web3

from ledger.chain.anchoring import Anchorer, WorkerConfig, pending_revocations
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import AnchorBatch, BatchState, RevocationTx
from ledger.chain.proof import RevocationReason
from ledger.documents.status import get_document
from ledger.errors import RegistryMissing
from tests.ledger.test_revocation_outbox import issue, revoke
from xacthuc.chainsetup import REGISTRY_FILE, ensure_registry
from xacthuc.devchain import AnvilNode, anvil_rpc, fund
from xacthuc.services import resend_everything
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil


def _settings(data_dir: Path, *, dev: bool) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, dev_mode=dev)  # type: ignore[call-arg]


def _anchor_everything(engine: Engine, registry: RegistryClient, account: LocalAccount) -> None:
    worker = Anchorer(engine, registry, {account.address: account}, WorkerConfig())
    deadline = time.monotonic() + 60
    while True:
        report = worker.step(force=True)
        with Session(engine) as s:
            states = set(s.exec(select(AnchorBatch.state)).all())
            if not report.busy and states <= {BatchState.CONFIRMED} and pending_revocations(s) == 0:
                return
        assert time.monotonic() < deadline, states


def test_recorded_registry_missing_from_the_chain_is_a_hard_error_outside_dev_mode(
    tmp_path: Path, anvil_w3: Web3, deployer: LocalAccount
) -> None:
    record = tmp_path / REGISTRY_FILE
    record.write_text(json.dumps({"chain_id": 31337, "address": "0x" + "11" * 20, "block": 5}), encoding="utf-8")
    before = record.read_bytes()

    def resend_all() -> tuple[int, int]:
        raise AssertionError("nothing may be sent again outside development mode")

    with pytest.raises(RegistryMissing) as caught:
        ensure_registry(_settings(tmp_path, dev=False), anvil_w3, deployer, deployer.address, resend_all=resend_all)
    assert caught.value.code == "REGISTRY_MISSING" and caught.value.http_status == 503
    assert "0x1111111111111111111111111111111111111111" in caught.value.message
    assert record.read_bytes() == before  # nothing recorded,
    assert anvil_w3.eth.get_transaction_count(deployer.address) == 0  # and nothing deployed


def test_dev_mode_deploys_a_new_registry_and_anchors_every_batch_and_revocation_again(
    tmp_path: Path,
    engine: Engine,
    anvil: AnvilNode,
    anvil_w3: Web3,
    deployer: LocalAccount,
    agency_accounts: list[LocalAccount],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = agency_accounts[0]
    settings = _settings(tmp_path, dev=True)
    first = ensure_registry(settings, anvil_w3, deployer, deployer.address)  # a fresh data dir deploys one
    docs = issue(engine, first, account, n=3)
    _anchor_everything(engine, first, account)
    revoke(engine, docs[0])
    _anchor_everything(engine, first, account)

    anvil_rpc(anvil.url, "anvil_reset", [])  # the dev chain is gone (a new node, a lost state file)
    for funded in (deployer, account):
        fund(anvil.url, funded.address, 10**21)
    assert not anvil_w3.eth.get_code(first.address)
    with caplog.at_level(logging.WARNING, logger="xacthuc.chain"):
        second = ensure_registry(
            settings, anvil_w3, deployer, deployer.address, resend_all=lambda: resend_everything(engine)
        )
    assert "every stored batch (1) and revocation (1) will be anchored on it again" in caplog.text
    assert second.address == first.address  # the deployer's first transaction: receipts still name it
    with Session(engine) as s:
        assert set(s.exec(select(AnchorBatch.state)).all()) == {BatchState.BUILT}
        assert s.exec(select(RevocationTx.state)).all() == [BatchState.BUILT]

    _anchor_everything(engine, second, account)
    with Session(engine) as s:
        views = [get_document(s, d) for d in docs]
    assert [v.status for v in views] == ["revoked", "anchored", "anchored"]
    for view in views:
        assert view.proof is not None
        status = second.status(account.address, view.proof.root, view.proof.leaf)
        assert status.anchored_at is not None
        assert status.reason == (RevocationReason.ANNULLED if view is views[0] else RevocationReason.NONE)
