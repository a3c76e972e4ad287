"""Issue 10: a data dir whose registry was deployed from an older build (before ``anchorFor``/``revokeFor``).

The relayer cannot send through such a registry. Development mode replaces it, as a vanished one: every stored batch
and revocation goes back to the outbox and is anchored on the new registry (from the relayer, under each agency).
Outside development mode nothing is redeployed silently: the start stops with ``REGISTRY_OUTDATED`` naming the
registry and telling the operator to deploy the current one (``xacthuc chain deploy``).

``tests/vectors/registry/issue8-creation-code.hex`` is the registry's creation code as issue 8 built it (commit
f669940: anchors keyed by agency and root, no ``anchorFor``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from web3 import Web3

from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import DEPLOY_GAS_LIMIT, RegistryClient
from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import AnchorBatch, BatchState, enqueue
from ledger.errors import RegistryOutdated
from xacthuc.chainsetup import REGISTRY_FILE, ensure_registry
from xacthuc.services import resend_everything
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil
OLD_CODE = Path(__file__).parents[1] / "vectors" / "registry" / "issue8-creation-code.hex"
LEAVES = [bytes([i]) * 32 for i in range(1, 4)]


def _settings(data_dir: Path, *, dev: bool, registry_address: str | None = None) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, dev_mode=dev, registry_address=registry_address)


def deploy_old_registry(w3: Web3, deployer: LocalAccount) -> RegistryClient:
    """The issue 8 registry (same anchor/revoke/status interface, no anchorFor), deployed and recorded nowhere."""
    creation = bytes.fromhex(OLD_CODE.read_text(encoding="ascii").strip().removeprefix("0x"))
    client = RegistryClient(w3, "0x" + "00" * 20)
    tx = {"data": creation + bytes(12) + bytes.fromhex(deployer.address[2:]), "gas": DEPLOY_GAS_LIMIT}
    signed = client.sign(deployer, tx, client.pending_nonce(deployer.address))
    client.send_raw(signed.raw)
    receipt = client.wait_for_receipt(signed.tx_hash, timeout=10)
    address = w3.eth.get_transaction_receipt(signed.tx_hash)["contractAddress"]  # type: ignore[arg-type]
    assert receipt.ok and address is not None
    old = RegistryClient(w3, address, from_block=receipt.block_number)
    assert not old.is_current_build()
    return old


def _record(data_dir: Path, registry: RegistryClient) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / REGISTRY_FILE
    path.write_text(json.dumps({"chain_id": registry.chain_id, "address": registry.address, "block": 1}))
    return path


def test_outdated_registry_is_a_typed_error_outside_dev_mode(
    tmp_path: Path, anvil_w3: Web3, deployer: LocalAccount
) -> None:
    old = deploy_old_registry(anvil_w3, deployer)
    record = _record(tmp_path, old)
    before, nonce = record.read_bytes(), anvil_w3.eth.get_transaction_count(deployer.address)

    def resend_all() -> tuple[int, int]:
        raise AssertionError("nothing may be sent again outside development mode")

    with pytest.raises(RegistryOutdated) as caught:
        ensure_registry(_settings(tmp_path, dev=False), anvil_w3, deployer, deployer.address, resend_all=resend_all)
    error = caught.value
    assert (error.code, error.http_status, error.address) == ("REGISTRY_OUTDATED", 503, old.address)
    assert old.address in error.message and "xacthuc chain deploy" in error.message
    assert record.read_bytes() == before  # nothing recorded,
    assert anvil_w3.eth.get_transaction_count(deployer.address) == nonce  # and nothing deployed

    configured = _settings(tmp_path / "other", dev=False, registry_address=old.address)
    with pytest.raises(RegistryOutdated):  # the same when the address is configured
        ensure_registry(configured, anvil_w3, deployer, deployer.address)


def test_dev_mode_replaces_an_outdated_registry_and_the_relayer_anchors_everything_again(
    tmp_path: Path,
    engine: Engine,
    anvil_w3: Web3,
    deployer: LocalAccount,
    agency_accounts: list[LocalAccount],
    caplog: pytest.LogCaptureFixture,
) -> None:
    agency, relayer = agency_accounts[0], agency_accounts[2]
    old = deploy_old_registry(anvil_w3, deployer)
    _record(tmp_path, old)
    with Session(engine) as session:  # anchored on the old registry by the agency itself, as before issue 10
        for leaf in LEAVES:
            enqueue(session, agency.address, leaf, _now())
        session.commit()
    _run_until_confirmed(Anchorer(engine, old, {agency.address: agency}, WorkerConfig(batch_max=1)), engine)
    assert all(old.anchor_record(agency.address, MerkleTree([leaf]).root) for leaf in LEAVES)

    with caplog.at_level(logging.WARNING, logger="xacthuc.chain"):
        new = ensure_registry(
            _settings(tmp_path, dev=True),
            anvil_w3,
            deployer,
            deployer.address,
            resend_all=lambda: resend_everything(engine),
        )
    assert new.address != old.address and new.is_current_build()
    assert "every stored batch (3) and revocation (0) will be anchored on it again" in caplog.text
    assert json.loads((tmp_path / REGISTRY_FILE).read_text())["address"] == new.address
    with Session(engine) as session:
        assert set(session.exec(select(AnchorBatch.state)).all()) == {BatchState.BUILT}

    fresh_agency = Account.create()  # an agency with no ether at all anchors too, through the relayer
    with Session(engine) as session:
        enqueue(session, fresh_agency.address, bytes([42]) * 32, _now())
        session.commit()
    accounts = {agency.address: agency, fresh_agency.address: fresh_agency}
    _run_until_confirmed(Anchorer(engine, new, accounts, WorkerConfig(batch_max=1), relayer=relayer), engine)
    for who, leaf in [(agency, leaf) for leaf in LEAVES] + [(fresh_agency, bytes([42]) * 32)]:
        assert new.anchor_record(who.address, MerkleTree([leaf]).root) is not None
    with Session(engine) as session:
        assert {b.sender for b in session.exec(select(AnchorBatch)).all()} == {relayer.address}


def _now() -> datetime:
    return datetime.now(UTC)


def _run_until_confirmed(anchorer: Anchorer, engine: Engine) -> None:
    deadline = time.monotonic() + 60
    while True:
        anchorer.step(force=True)
        with Session(engine) as session:
            states = set(session.exec(select(AnchorBatch.state)).all())
        if states and states <= {BatchState.CONFIRMED, BatchState.FINAL}:
            return
        assert time.monotonic() < deadline, states
