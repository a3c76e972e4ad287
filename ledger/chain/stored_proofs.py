"""Anchor proofs from this database's confirmed batches, for the reads a verification makes on every request (a
document's proof, an issuer's register of offices).

A batch's Merkle tree (up to 65,536 leaves) is stored as one blob when the batch is cut; building one path from it
means parsing it. The parsed trees are kept here, at most ``TREES_KEPT`` at a time, keyed by batch id and root: a
batch's tree is written once and its root is its hash, so a kept tree is always the stored one. What a
re-organisation can change (the batch's state, transaction, block and time) is read from the row every time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection

from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import CONFIRMED_STATES, AnchorBatch, as_utc
from ledger.chain.proof import Proof

__all__ = ["TREES_KEPT", "anchored", "stored_proof", "stored_tree"]

#: Parsed trees kept (a typical server verifies documents of a few recent batches).
TREES_KEPT = 64

_B: Table = AnchorBatch.__table__  # type: ignore[attr-defined]
_TREE = select(_B.c.tree).where(_B.c.id == bindparam("batch"), _B.c.root == bindparam("root"))
_kept: dict[tuple[int, bytes], MerkleTree] = {}


def stored_tree(conn: Connection, batch_id: int, root: bytes) -> MerkleTree:
    """The parsed tree of batch ``batch_id`` whose root is ``root``, read on ``conn`` unless kept."""
    found = _kept.get((batch_id, root))
    if found is None:
        blob = conn.execute(_TREE, {"batch": batch_id, "root": root}).scalar_one()
        if len(_kept) >= TREES_KEPT:
            _kept.clear()
        found = _kept[(batch_id, root)] = MerkleTree.from_bytes(bytes(blob))
    return found


def anchored(state: str | None, tx_hash: str | None, block: int | None, anchored_at: datetime | None) -> bool:
    """Whether a batch with these columns is anchored: confirmed, with its transaction, block and time."""
    return state in CONFIRMED_STATES and tx_hash is not None and block is not None and anchored_at is not None


def stored_proof(conn: Connection, leaf: bytes, batch: Any) -> Proof | None:
    """The proof of ``leaf`` in its batch, from a row with the batch's columns (``id``, ``root``, ``state``,
    ``tx_hash``, ``block_number``, ``anchored_at``) and the registry's (``chain_id``, ``contract``); None unless
    the batch is anchored."""
    if batch.id is None or batch.root is None:
        return None
    if not anchored(batch.state, batch.tx_hash, batch.block_number, batch.anchored_at):
        return None
    root = bytes(batch.root)
    tree = stored_tree(conn, int(batch.id), root)
    return Proof(
        root=root,
        path=tree.proof(tree.index_of(leaf)),
        leaf=leaf,
        chain_id=int(batch.chain_id),
        contract=batch.contract,
        tx_hash=batch.tx_hash,
        block=int(batch.block_number),
        anchored_at=as_utc(batch.anchored_at),
    )
