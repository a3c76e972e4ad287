"""The anchoring worker on the in-process chain: happy path, resumption after crashes, idempotent re-anchoring."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.chain.anchoring import Anchorer, WorkerConfig, pending_count
from ledger.chain.client import RegistryClient
from ledger.chain.merkle import compute_root
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, BatchState, enqueue_many, leaf_proof

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def leaves(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}doc-{i}".encode()).digest() for i in range(n)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def account(registry: RegistryClient, agency_accounts: list[Any]) -> Any:
    return agency_accounts[0]


@pytest.fixture
def anchorer(engine: Engine, registry: RegistryClient, account: Any) -> Iterator[Anchorer]:
    yield Anchorer(engine, registry, {account.address: account}, WorkerConfig(batch_max=8, finality_depth=3), Clock())


def batches(engine: Engine) -> list[AnchorBatch]:
    with Session(engine) as s:
        return list(s.exec(select(AnchorBatch).order_by(AnchorBatch.id)).all())


def assert_all_anchored_once(engine: Engine, registry: RegistryClient, account: Any) -> None:
    with Session(engine) as s:
        rows = s.exec(select(AnchorLeaf, AnchorBatch).join(AnchorBatch)).all()
        assert pending_count(s) == 0
    assert rows
    for lf, batch in rows:
        assert batch.state in (BatchState.CONFIRMED, BatchState.FINAL)
        with Session(engine) as s:
            proof = leaf_proof(s, lf.data)
        assert proof is not None and compute_root(lf.data, proof.path) == batch.root
        record = registry.anchor_record(account.address, batch.root)
        assert record is not None and record.agency == account.address
        assert record.count == batch.count
    roots = {b.root for _, b in rows}
    assert anchor_events(registry, account.address) == len(roots)


def anchor_events(registry: RegistryClient, agency: str) -> int:
    """How many Anchored events the agency emitted: one per root means nothing was anchored twice."""
    topic_agency = bytes(12) + bytes.fromhex(agency[2:])
    logs = registry.w3.eth.get_logs(
        {
            "address": registry.address,
            "topics": [registry.artifact.event_topic("Anchored"), topic_agency],
            "fromBlock": 0,
            "toBlock": "latest",
        }
    )
    return len(logs)


def test_leaves_are_batched_sent_confirmed_and_proven(
    engine: Engine, anchorer: Anchorer, registry: RegistryClient, account: Any
) -> None:
    with Session(engine) as s:
        enqueue_many(s, account.address, leaves(20), T0)
        s.commit()
    report = anchorer.step(force=True)  # the in-process chain mines at once: one pass sends and confirms
    assert (report.built, report.sent, report.confirmed) == (3, 3, 3)
    assert [b.state for b in batches(engine)] == [BatchState.CONFIRMED] * 3
    assert_all_anchored_once(engine, registry, account)
    b = batches(engine)[0]
    assert b.block_number is not None and b.anchored_at is not None and b.tx_hash is not None


def test_batch_waits_for_the_interval(engine: Engine, anchorer: Anchorer, account: Any) -> None:
    with Session(engine) as s:
        enqueue_many(s, account.address, leaves(3), T0)
        s.commit()
    assert anchorer.step().built == 0
    anchorer.clock.now = T0 + timedelta(seconds=2)  # type: ignore[attr-defined]
    assert anchorer.step().built == 1


class CrashAfterCommit:
    """A chain whose broadcast dies the first time: the process 'crashed' after persisting 'sent'."""

    def __init__(self, inner: RegistryClient) -> None:
        self.inner = inner
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def block_number(self) -> int:
        return self.inner.block_number

    def send_raws(self, raws: list[bytes]) -> None:
        if not self.crashed:
            self.crashed = True
            raise ConnectionError("process died before the broadcast")
        self.inner.send_raws(raws)


def test_crash_between_persist_and_broadcast_resends_the_same_tx(
    engine: Engine, registry: RegistryClient, account: Any
) -> None:
    with Session(engine) as s:
        enqueue_many(s, account.address, leaves(5), T0)
        s.commit()
    crashing = Anchorer(engine, CrashAfterCommit(registry), {account.address: account}, WorkerConfig(), Clock())  # type: ignore[arg-type]
    report = crashing.step(force=True)
    assert report.errors and batches(engine)[0].state == BatchState.SENT
    tx_before = batches(engine)[0].tx_hash
    restarted = Anchorer(engine, registry, {account.address: account}, WorkerConfig(), Clock())
    restarted.step()  # the node never saw it: broadcast the persisted bytes again
    restarted.step()
    (batch,) = batches(engine)
    assert batch.state == BatchState.CONFIRMED and batch.tx_hash == tx_before
    assert_all_anchored_once(engine, registry, account)


def test_root_already_anchored_by_us_is_adopted_not_sent_again(
    engine: Engine, anchorer: Anchorer, registry: RegistryClient, account: Any
) -> None:
    with Session(engine) as s:
        enqueue_many(s, account.address, leaves(4), T0)
        s.commit()
    anchorer.step(force=True)
    anchorer.step()
    (batch,) = batches(engine)
    # Someone (an earlier worker run, a restored backup) anchors the same root again: treated as done.
    result = registry.anchor(account, batch.root, batch.count)
    assert result.already_anchored and result.record.agency == account.address
    with Session(engine) as s:
        row = s.get(AnchorBatch, batch.id)
        assert row is not None
        row.state, row.tx_hash, row.raw_tx, row.nonce = BatchState.BUILT, None, None, None
        s.add(row)
        s.commit()
    report = anchorer.step()
    assert report.sent == 0 and report.confirmed == 1
    assert_all_anchored_once(engine, registry, account)


def test_unknown_account_is_left_alone(engine: Engine, anchorer: Anchorer) -> None:
    stranger = Account.create()
    with Session(engine) as s:
        enqueue_many(s, stranger.address, leaves(2), T0)
        s.commit()
    report = anchorer.step(force=True)
    assert report.sent == 0
