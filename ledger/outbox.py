"""The anchoring outbox: leaves wait here, durable, until a batch takes them.

A leaf is written in the same database transaction as the thing it commits to (a document, a revocation), so an
accepted document is never lost: whatever dies afterwards, the worker finds the leaf here and anchors it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, bindparam, func, update
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
    __tablename__ = "ledger_leaf"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=42)
    data: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_at: datetime = Field(index=True)
    batch_id: int | None = Field(default=None, foreign_key="ledger_batch.id", index=True)
    leaf_index: int | None = None
    path: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class AnchorBatch(SQLModel, table=True):
    __tablename__ = "ledger_batch"

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(index=True, max_length=42)
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    count: int
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
    """Bulk form of :func:`enqueue` for archives and benchmarks (one INSERT with many rows)."""
    if any(len(d) != 32 for d in items):
        raise LedgerError("a leaf is exactly 32 bytes")
    created = as_utc(now)
    rows = [{"account": account, "data": d, "created_at": created} for d in items]
    if rows:
        session.execute(AnchorLeaf.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(rows)


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

    Each batch is built (tree, per-leaf paths) and committed in one transaction with its leaves, so the state
    "built" is durable before anything is sent.
    """
    batches: list[CutBatch] = []
    accounts = _accounts_due(session, now, batch_max, timedelta(0) if force else interval)
    for account in accounts:
        while True:
            batch = _cut_one(session, account, now, batch_max, interval, force)
            if batch is None:
                break
            batches.append(batch)
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
    batch = AnchorBatch(account=account, root=tree.root, count=len(rows), created_at=as_utc(now))
    session.add(batch)
    session.flush()
    batch_id = batch.id
    assert batch_id is not None
    proofs = tree.proofs()
    params = [{"_id": r[0], "_batch": batch_id, "_index": i, "_path": b"".join(proofs[i])} for i, r in enumerate(rows)]
    table = AnchorLeaf.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == bindparam("_id"), table.c.batch_id.is_(None))
        .values(batch_id=bindparam("_batch"), leaf_index=bindparam("_index"), path=bindparam("_path")),
        params,
    )
    session.commit()
    return CutBatch(id=batch_id, account=account, root=tree.root, count=len(rows))


def split_path(path: bytes | None) -> list[bytes]:
    if not path:
        return []
    return [path[i : i + 32] for i in range(0, len(path), 32)]
