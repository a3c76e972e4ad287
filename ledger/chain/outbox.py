"""The anchoring outbox: what must reach the chain waits here, durable, until the worker has put it there.

A leaf is written in the same database transaction as the document it commits to, and a revocation in the same
transaction as the agency's decision, so neither is ever lost: whatever dies afterwards, the worker finds it here.
Batches (one ``anchor`` transaction for many leaves) and revocations (one ``revoke`` transaction for a document) are
both an :class:`OutboxTx`: the same persisted steps, driven by the same code in ``ledger.chain.anchoring``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, LargeBinary, func, text, update
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import Select

from keys.validity import stored_utc
from ledger._bulk import among, bound_value, executemany, insert_many
from ledger.chain.merkle import MerkleTree
from ledger.errors import LedgerError

__all__ = [
    "CONFIRMED_STATES",
    "OPEN_STATES",
    "AnchorBatch",
    "AnchorLeaf",
    "BatchState",
    "CutBatch",
    "LeafProof",
    "OutboxTx",
    "RevocationTx",
    "as_utc",
    "cut_batches",
    "enqueue",
    "enqueue_many",
    "enqueue_revocation",
    "leaf_proof",
    "next_cut_at",
    "revocation_of",
    "send_everything_again",
    "waiting_leaves",
]


class BatchState(StrEnum):
    """The steps of an outbox transaction (a batch's anchor or a document's revocation), each persisted."""

    BUILT = "built"  # ready to sign (a batch: tree built, leaves assigned; a revocation: recorded), nothing sent
    SENT = "sent"  # signed transaction persisted (nonce, hash, raw bytes) and broadcast at least once
    CONFIRMED = "confirmed"  # receipt with status 1 seen at block N with enough confirmations
    FINAL = "final"  # deeper than the finality depth: no longer re-checked for re-organisations
    FAILED = "failed"  # gave up after repeated failures; needs an operator


_WAITING = text("batch_id IS NULL")
_BATCHED = text("batch_id IS NOT NULL")


class AnchorLeaf(SQLModel, table=True):
    """One queued leaf. ``batch_id`` is set when a batch takes it; its proof is read from the batch's tree."""

    __tablename__ = "ledger_leaf"
    # The worker's one query: this account's leaves without a batch, oldest first (only the waiting leaves are in it,
    # in the order it reads them); and the leaves of a batch, for the anchoring lag (migration 0019).
    __table_args__ = (
        Index("ix_ledger_leaf_waiting", "account", "id", postgresql_where=_WAITING, sqlite_where=_WAITING),
        Index("ix_ledger_leaf_batch", "batch_id", postgresql_where=_BATCHED, sqlite_where=_BATCHED),
    )

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=42)
    data: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_at: datetime
    batch_id: int | None = Field(default=None, foreign_key="ledger_batch.id")


class OutboxTx(SQLModel):
    """The columns of one transaction the worker sends for an agency, one persisted step at a time.

    ``account`` is the agency whose record it is (batches are cut by it; the registry records under it);
    ``sender`` the account that signed and sent the transaction (its ``nonce`` is that account's): the city's
    relayer, or the agency itself (rows sent before the relayer existed, and workers run without one).
    """

    account: str = Field(index=True, max_length=42)
    sender: str | None = Field(default=None, max_length=42)
    state: str = Field(default=BatchState.BUILT, index=True, max_length=16)
    nonce: int | None = None
    tx_hash: str | None = Field(default=None, max_length=66)
    raw_tx: bytes | None = Field(default=None, sa_type=LargeBinary)  # the signed bytes, re-broadcast as they are
    sent_at: datetime | None = None
    block_number: int | None = None
    block_hash: str | None = Field(default=None, max_length=66)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)

    def set_mined(self, block_number: int | None, block_hash: str | None, when: datetime | None) -> None:
        """Where the transaction was mined: its block and the block's time (all None: nowhere, any more)."""
        self.block_number = block_number
        self.block_hash = block_hash
        self._set_block_time(when)

    @property
    def sent_by(self) -> str:
        """The account whose nonce the transaction took (``sender``; the agency itself for rows without one)."""
        return self.sender or self.account

    def clear_sent(self) -> None:
        """Forget the transaction (signed bytes, sender, nonce, hash) and where it was mined: it will be signed
        anew."""
        self.nonce = self.tx_hash = self.raw_tx = self.sent_at = self.sender = None
        self.set_mined(None, None, None)

    def _set_block_time(self, when: datetime | None) -> None:
        raise NotImplementedError


class AnchorBatch(OutboxTx, table=True):
    """One ``anchor(root, count)`` transaction for the leaves of a Merkle tree."""

    __tablename__ = "ledger_batch"

    id: int | None = Field(default=None, primary_key=True)
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    count: int
    tree: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # MerkleTree.to_bytes(): every proof
    created_at: datetime
    anchored_at: datetime | None = None  # the confirming block's time

    def _set_block_time(self, when: datetime | None) -> None:
        self.anchored_at = when


class RevocationTx(OutboxTx, table=True):
    """One ``revoke`` transaction for a stored document, written with the agency's decision
    (``ledger.documents.revocation``).

    It is sent once the document's batch is confirmed, with the Merkle proof read from that batch's tree.
    """

    __tablename__ = "ledger_revocation"

    id: int | None = Field(default=None, primary_key=True)
    # No foreign key to ledger_document: SQLite (foreign keys on) could then never rebuild that table in a migration.
    document_id: str = Field(max_length=26, unique=True)
    data: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))  # the document's leaf
    reason: int  # ledger.chain.proof.RevocationReason
    replaced_by: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))  # its leaf
    created_at: datetime
    mined_at: datetime | None = None  # the confirming block's time

    def _set_block_time(self, when: datetime | None) -> None:
        self.mined_at = when


@dataclass(frozen=True)
class CutBatch:
    """A batch just cut (plain data: the ORM row is committed and expired by then)."""

    id: int
    account: str
    root: bytes
    count: int


def as_utc(dt: datetime) -> datetime:
    """Timestamps are timezone-aware UTC throughout (SQLModel's UTCDateTime refuses naive ones)."""
    return stored_utc(dt)


def enqueue(session: Session, account: str, data: bytes, now: datetime) -> AnchorLeaf:
    """Queue one 32-byte leaf for ``account``; the caller's commit makes it durable."""
    if len(data) != 32:
        raise LedgerError("a leaf is exactly 32 bytes")
    leaf = AnchorLeaf(account=account, data=data, created_at=as_utc(now))
    session.add(leaf)
    return leaf


def enqueue_many(session: Session, account: str, items: Sequence[bytes], now: datetime) -> int:
    """Bulk form of :func:`enqueue` for archives and benchmarks: one bulk insert below the ORM (``COPY`` on
    PostgreSQL)."""
    if any(len(d) != 32 for d in items):
        raise LedgerError("a leaf is exactly 32 bytes")
    if not items:
        return 0
    created = bound_value(session, AnchorLeaf.__table__.c.created_at, as_utc(now))  # type: ignore[attr-defined]
    insert_many(session, "ledger_leaf", ("account", "data", "created_at"), [(account, d, created) for d in items])
    return len(items)


def next_cut_at(session: Session, interval: timedelta) -> datetime | None:
    """When ``cut_batches`` is due to cut the oldest leaf not yet in a batch (its queueing plus ``interval``); None
    when no leaf waits."""
    oldest = session.exec(select(func.min(AnchorLeaf.created_at)).where(col(AnchorLeaf.batch_id).is_(None))).one()
    return None if oldest is None else as_utc(oldest) + interval


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
        after = 0  # leaf ids start at 1
        while True:
            cut = _cut_one(session, account, now, batch_max, interval, force, after)
            if cut is None:
                break
            batch, after = cut
            batches.append(batch)
    session.commit()  # every batch of this pass is durable ("built") before anything is signed
    return batches


def waiting_leaves(
    account: str, after: int, limit: int
) -> Select[int, bytes, datetime] | Select[None, bytes, datetime]:
    """``account``'s first ``limit`` leaves without a batch with ids above ``after``, oldest first: id, data, queued at.
    Read in the order of ``ix_ledger_leaf_waiting``, which holds only those leaves (migration 0019)."""
    return (
        select(AnchorLeaf.id, AnchorLeaf.data, AnchorLeaf.created_at)
        .where(col(AnchorLeaf.batch_id).is_(None), AnchorLeaf.account == account, col(AnchorLeaf.id) > after)
        .order_by(col(AnchorLeaf.id))
        .limit(limit)
    )


def _cut_one(
    session: Session, account: str, now: datetime, batch_max: int, interval: timedelta, force: bool, after: int
) -> tuple[CutBatch, int] | None:
    """The next batch of ``account``'s waiting leaves with ids above ``after``, and its last leaf's id.

    Why ``after``: on PostgreSQL a leaf placed in a batch leaves its old version's entry in the waiting index, dead
    only once the pass commits. Without the bound each batch's scan walked every entry the pass had placed before it:
    the anchoring bench's 100,000 leaves spent 1.7 s in those scans, and ran at 18,000 leaves/s against a durable
    PostgreSQL (the target is 20,000); with it and the one-statement UPDATE, 23,000-24,000. A leaf committed late with
    an id below ``after`` waits for the next pass, whose scan starts from the beginning.
    """
    rows = session.exec(waiting_leaves(account, after, batch_max)).all()
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
    ids = [r[0] for r in rows]
    if session.get_bind().dialect.name == "postgresql":  # one statement: 18 ms a batch there, 1,024 UPDATEs 23 ms
        session.connection().execute(
            update(AnchorLeaf)
            .where(among(session, col(AnchorLeaf.id), ids, Integer()), col(AnchorLeaf.batch_id).is_(None))
            .values(batch_id=batch_id)
        )
    else:  # SQLite runs executemany as one C loop, and an IN list would stop at 32,766 leaves (batch_max: 65,536)
        executemany(
            session,
            "UPDATE ledger_leaf SET batch_id = {p} WHERE id = {p} AND batch_id IS NULL",
            [(batch_id, i) for i in ids],
        )
    last = ids[-1]
    assert last is not None
    return CutBatch(id=batch_id, account=account, root=tree.root, count=len(rows)), last


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


# ---------------------------------------------------------------------------------------------------- revocations
CONFIRMED_STATES = (BatchState.CONFIRMED.value, BatchState.FINAL.value)
OPEN_STATES = (BatchState.BUILT.value, BatchState.SENT.value)


def enqueue_revocation(
    session: Session,
    *,
    document_id: str,
    account: str,
    data: bytes,
    reason: int,
    replaced_by: bytes | None,
    now: datetime,
) -> RevocationTx:
    """Queue the revocation of the document whose leaf is ``data``; the caller's commit makes it durable."""
    if len(data) != 32 or (replaced_by is not None and len(replaced_by) != 32):
        raise LedgerError("a leaf is exactly 32 bytes")
    row = RevocationTx(
        document_id=document_id,
        account=account,
        data=data,
        reason=reason,
        replaced_by=replaced_by,
        created_at=as_utc(now),
    )
    session.add(row)
    return row


def revocation_of(session: Session, document_id: str) -> RevocationTx | None:
    """The revocation recorded for a document, whatever its state; None if there is none."""
    return session.exec(select(RevocationTx).where(RevocationTx.document_id == document_id)).first()


def send_everything_again(session: Session) -> tuple[int, int]:
    """Every batch and revocation back to ``built``, as if never sent: for a registry that replaced a vanished one.

    Returns (batches, revocations). The caller commits.
    """
    counts = []
    for model in (AnchorBatch, RevocationTx):
        rows = session.exec(select(model)).all()
        for row in rows:
            row.clear_sent()
            row.state = BatchState.BUILT
            row.attempts = 0
            row.last_error = None
            session.add(row)
        counts.append(len(rows))
    return counts[0], counts[1]
