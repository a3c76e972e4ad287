"""Fault tests on a real anvil: the node SIGKILLed mid-batch, the worker SIGKILLed between sent and confirmed,
and a chain re-organisation that drops an anchor. In every case each leaf ends anchored exactly once."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.chain.anchoring import Anchorer, WorkerConfig, pending_count
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import AnchorBatch, BatchState, enqueue_many
from tests.ledger import worker_proc
from tests.ledger.test_anchoring import assert_all_anchored_once
from xacthuc.devchain import AnvilNode, anvil_rpc

pytestmark = pytest.mark.anvil


def queue(engine: Engine, account: LocalAccount, n: int, salt: str) -> None:
    with Session(engine) as s:
        data = [hashlib.sha256(f"{salt}-{i}".encode()).digest() for i in range(n)]
        enqueue_many(s, account.address, data, datetime.now(UTC))
        s.commit()


def states(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return [b.state for b in s.exec(select(AnchorBatch).order_by(AnchorBatch.id)).all()]


def broadcast(engine: Engine, registry: RegistryClient) -> int:
    """How many batches are sent and already in the node's mempool (the worker commits ``sent``, then broadcasts)."""
    with Session(engine) as s:
        hashes = [b.tx_hash for b in s.exec(select(AnchorBatch)).all() if b.state == BatchState.SENT and b.tx_hash]
    return sum(registry.transaction_known(bytes.fromhex(h[2:])) for h in hashes)


def run_until(anchorer: Anchorer, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run passes until ``done`` holds after a quiet pass (one that found nothing to do and no error)."""
    deadline = time.monotonic() + timeout
    while True:
        report = anchorer.step()
        if not report.busy and not report.errors and done():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout} s; batches: {states(anchorer.engine)}")
        if not report.busy:
            time.sleep(0.05)


def all_confirmed(engine: Engine) -> Callable[[], bool]:
    def check() -> bool:
        with Session(engine) as s:
            if pending_count(s):
                return False
        return all(st in (BatchState.CONFIRMED, BatchState.FINAL) for st in states(engine))

    return check


def test_anvil_sigkilled_mid_batch_then_restarted(
    engine: Engine, anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    anvil.wait_for_state_dump()  # the deployment itself must survive the kill
    queue(engine, account, 30, "kill-node")
    anchorer = Anchorer(engine, anvil_registry, {account.address: account}, WorkerConfig(batch_max=8))
    report = anchorer.step(force=True)
    assert report.sent == 4
    anvil.kill()  # the last second of blocks may be lost with the process
    down = anchorer.step()
    assert down.errors, "a dead node must be reported, not ignored"
    assert states(engine).count(BatchState.FAILED) == 0
    anvil.start()
    run_until(anchorer, all_confirmed(engine))
    assert_all_anchored_once(engine, anvil_registry, account)


def test_worker_sigkilled_between_sent_and_confirmed_resumes(
    engine: Engine, db_url: str, anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    anvil_rpc(anvil.url, "evm_setAutomine", [False])  # transactions wait in the mempool until we mine
    queue(engine, account, 10, "kill-worker")
    proc = worker_proc.spawn(db_url, anvil.url, anvil_registry.address, account)
    try:
        deadline = time.monotonic() + 60
        while broadcast(engine, anvil_registry) < 3:  # killed after the broadcast: "between sent and confirmed"
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "worker died"
            assert time.monotonic() < deadline, f"worker did not send: {states(engine)}"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert states(engine) == [BatchState.SENT] * 3  # killed with every batch sent and none confirmed
    anvil_rpc(anvil.url, "evm_mine")
    restarted = Anchorer(engine, anvil_registry, {account.address: account}, WorkerConfig(batch_max=4))
    run_until(restarted, all_confirmed(engine))
    assert_all_anchored_once(engine, anvil_registry, account)


def test_reorg_that_drops_the_anchor_is_detected_and_anchored_again(
    engine: Engine, anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    anvil_rpc(anvil.url, "anvil_mine", ["0x5"])  # keep the registry's deployment well below the re-org
    queue(engine, account, 5, "reorg")
    anchorer = Anchorer(
        engine, anvil_registry, {account.address: account}, WorkerConfig(finality_depth=20, batch_interval=timedelta(0))
    )
    run_until(anchorer, all_confirmed(engine))
    with Session(engine) as s:
        (before,) = s.exec(select(AnchorBatch)).all()
    assert anvil_registry.anchor_record(account.address, before.root) is not None
    assert before.block_number == anvil_registry.block_number
    anvil_rpc(anvil.url, "anvil_reorg", [1, []])  # replace the anchor's block with an empty one
    assert anvil_registry.anchor_record(account.address, before.root) is None, (
        "the re-org should have dropped the anchor"
    )
    seen_reorg = False
    deadline = time.monotonic() + 60
    while True:
        report = anchorer.step()
        seen_reorg |= report.reorged > 0
        if seen_reorg and all_confirmed(engine)():
            break
        assert time.monotonic() < deadline, states(engine)
        time.sleep(0.05)
    with Session(engine) as s:
        (after,) = s.exec(select(AnchorBatch)).all()
    assert after.block_hash != before.block_hash
    assert_all_anchored_once(engine, anvil_registry, account)


def test_a_final_anchor_lost_with_the_chain_is_found_even_when_a_newer_one_became_final_since(
    engine: Engine, anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """The final rows are watched through the newest one's block alone. A batch anchored and made final on the
    chain that replaced a lost one must not become that newest row while an older final row lost with the old
    chain is still taken as final: it would vouch for the lost row, which would then never be anchored again.
    The clock stands still, so the periodic look at the final rows comes only when the test moves it."""
    account = agency_accounts[0]
    anvil_rpc(anvil.url, "anvil_mine", ["0x5"])  # keep the registry's deployment well below the re-org
    now = [datetime.now(UTC) + timedelta(minutes=1)]
    anchorer = Anchorer(
        engine,
        anvil_registry,
        {account.address: account},
        WorkerConfig(finality_depth=2, batch_interval=timedelta(0)),
        clock=lambda: now[0],
    )

    def final(n: int) -> Callable[[], bool]:
        return lambda: states(engine) == [BatchState.FINAL] * n

    def mine_until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not done():
            anchorer.step()
            anvil_rpc(anvil.url, "anvil_mine", ["0x1"])
            assert time.monotonic() < deadline, states(engine)

    queue(engine, account, 5, "lost-final")
    mine_until(final(1))
    with Session(engine) as s:
        (lost,) = s.exec(select(AnchorBatch)).all()
    depth = anvil_registry.block_number - (lost.block_number or 0) + 1
    anvil_rpc(anvil.url, "anvil_reorg", [depth, []])  # the chain no longer has the block the final anchor is in
    assert anvil_registry.anchor_record(account.address, lost.root) is None

    queue(engine, account, 5, "final-since")
    mine_until(lambda: states(engine)[1:] == [BatchState.FINAL])  # the newer batch made final on the new chain
    now[0] += timedelta(minutes=1)  # the periodic look at the final rows is due
    mine_until(final(2))
    assert anvil_registry.anchor_record(account.address, lost.root) is not None, "the lost anchor was not sent again"
    assert_all_anchored_once(engine, anvil_registry, account)
