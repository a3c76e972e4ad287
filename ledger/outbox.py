"""The anchoring outbox: leaves wait here, durable, until a batch takes them.

A leaf is written in the same database transaction as the thing it commits to (a document, a revocation), so an
accepted document is never lost: whatever dies afterwards, the worker finds the leaf here and anchors it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, func
from sqlmodel import Field, Session, SQLModel, col, select

from ledger.errors import LedgerError
from ledger.merkle import MerkleTree


class BatchState(StrEnum):
    BUILT = "built"  # tree built, leaves assigned, nothing sent
    SENT = "sent"  # signed transaction persisted (nonce, hash, raw bytes) and broadcast at least once
    CONFIRMED = "confirmed"  # receipt with status 1 seen at block N with enough confirmations
    FINAL = "final"  # deeper than the finality depth: no longer re-checked for re-organisations
    FAILED = "failed"  # gave up after repeated failures; needs an operator


class AnchorLeaf(SQLModel, table=True):
    """One queued leaf. ``batch_id`` is set when a batch takes it; its proof is read from the batch's tree."""

    __tablename__ = "ledger_leaf"
    # The worker's one query: this account's leaves without a batch, oldest first.
    __table_args__ = (Index("ix_ledger_leaf_waiting", "account", "batch_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=42)
    data: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_at: datetime
    batch_id: int | None = Field(default=None, foreign_key="ledger_batch.id")


class AnchorBatch(SQLModel, table=True):
    __tablename__ = "ledger_batch"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=42)
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    count: int
    tree: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # MerkleTree.to_bytes(): every proof
    state: str = Field(default=BatchState.BUILT, index=True, max_length=16)
    created_at: datetime
    nonce: int | None = None
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    sent_at: datetime | None = None
    block_number: int | None = None
    block_hash: str | None = Field(default=None, max_length=66)
    anchored_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class CutBatch:
    """A batch just cut (plain data: the ORM row is committed and expired by then)."""

    id: int
    account: str
    root: bytes
    count: int


def as_utc(dt: datetime) -> datetime:
    """Timestamps are timezone-aware UTC throughout (SQLModel's UTCDateTime refuses naive ones)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def enqueue(session: Session, account: str, data: bytes, now: datetime) -> AnchorLeaf:
    """Queue one 32-byte leaf for ``account``; the caller's commit makes it durable."""
    if len(data) != 32:
        raise LedgerError("a leaf is exactly 32 bytes")
    leaf = AnchorLeaf(account=account, data=data, created_at=as_utc(now))
    session.add(leaf)
    return leaf


def enqueue_many(session: Session, account: str, items: Sequence[bytes], now: datetime) -> int:
    """Bulk form of :func:`enqueue` for archives and benchmarks: one driver-level ``executemany``."""
    if any(len(d) != 32 for d in items):
        raise LedgerError("a leaf is exactly 32 bytes")
    if not items:
        return 0
    created = _bound(session, AnchorLeaf.__table__.c.created_at, as_utc(now))  # type: ignore[attr-defined]
    _executemany(
        session,
        "INSERT INTO ledger_leaf (account, data, created_at) VALUES ({p}, {p}, {p})",
        [(account, d, created) for d in items],
    )
    return len(items)


def _bound(session: Session, column: Any, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing, done once)."""
    processor = column.type.bind_processor(session.get_bind().dialect)
    return processor(value) if processor is not None else value


def _executemany(session: Session, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Many rows through the driver's own ``executemany``: the ORM's per-row work would dominate bulk paths."""
    connection = session.connection()
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(sql.format(p=placeholder), rows)


def _accounts_due(session: Session, now: datetime, batch_max: int, interval: timedelta) -> list[str]:
    stmt = (
        select(AnchorLeaf.account, func.count(), func.min(AnchorLeaf.created_at))
        .where(col(AnchorLeaf.batch_id).is_(None))
        .group_by(col(AnchorLeaf.account))
    )
    due: list[str] = []
    cutoff = as_utc(now) - interval
    for account, count, oldest in session.exec(stmt):
        if count >= batch_max or oldest <= cutoff:
            due.append(account)
    return due


def cut_batches(
    session: Session, now: datetime, *, batch_max: int, interval: timedelta, force: bool = False
) -> list[CutBatch]:
    """Cut every batch that is due: ``batch_max`` leaves waiting, or the oldest older than ``interval``.

    Each batch is built (its whole Merkle tree stored, from which every leaf's proof is read) and committed with
    its leaves' assignment in one transaction per pass, so the state "built" is durable before anything is sent.
    """
    batches: list[CutBatch] = []
    accounts = _accounts_due(session, now, batch_max, timedelta(0) if force else interval)
    for account in accounts:
        while True:
            batch = _cut_one(session, account, now, batch_max, interval, force)
            if batch is None:
                break
            batches.append(batch)
    session.commit()  # every batch of this pass is durable ("built") before anything is signed
    return batches


def _cut_one(
    session: Session, account: str, now: datetime, batch_max: int, interval: timedelta, force: bool
) -> CutBatch | None:
    rows = session.exec(
        select(AnchorLeaf.id, AnchorLeaf.data, AnchorLeaf.created_at)
        .where(col(AnchorLeaf.batch_id).is_(None), AnchorLeaf.account == account)
        .order_by(col(AnchorLeaf.id))
        .limit(batch_max)
    ).all()
    if not rows:
        return None
    if len(rows) < batch_max and not force and rows[0][2] > as_utc(now) - interval:
        return None
    tree = MerkleTree([r[1] for r in rows])
    batch = AnchorBatch(account=account, root=tree.root, count=len(rows), tree=tree.to_bytes(), created_at=as_utc(now))
    session.add(batch)
    session.flush()
    batch_id = batch.id
    assert batch_id is not None
    _executemany(
        session,
        "UPDATE ledger_leaf SET batch_id = {p} WHERE id = {p} AND batch_id IS NULL",
        [(batch_id, r[0]) for r in rows],
    )
    return CutBatch(id=batch_id, account=account, root=tree.root, count=len(rows))


@dataclass(frozen=True)
class LeafProof:
    """Where a leaf stands: its batch (root, state, anchor) and its Merkle path to the root."""

    batch: AnchorBatch
    index: int
    path: tuple[bytes, ...]


def leaf_proof(session: Session, data: bytes) -> LeafProof | None:
    """The proof of a queued leaf once a batch has taken it; None while it waits (or was never queued)."""
    row = session.exec(
        select(AnchorBatch)
        .join(AnchorLeaf, col(AnchorLeaf.batch_id) == col(AnchorBatch.id))
        .where(AnchorLeaf.data == data)
    ).first()
    if row is None:
        return None
    tree = MerkleTree.from_bytes(row.tree)
    index = tree.index_of(data)
    return LeafProof(batch=row, index=index, path=tree.proof(index))
