"""The two kinds of outbox transaction the anchoring worker sends: a batch's ``anchor`` and a document's ``revoke``.

``ledger.chain.anchoring.Anchorer`` drives both through the same persisted steps (built, sent, confirmed, final)
with the same nonces, receipts and re-organisation checks. What differs between them is here: which rows are ready to be
signed, how one is signed, and how to recognise one that is already on chain (it is then adopted, never sent twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlmodel import Session, col, select

from ledger.chain.outbox import (
    CONFIRMED_STATES,
    AnchorBatch,
    AnchorLeaf,
    BatchState,
    OutboxTx,
    RevocationTx,
    leaf_proof,
)
from ledger.chain.proof import DocumentChainStatus
from ledger.chain.types import AnchorRecord, Fees, SignedTx

__all__ = ["BATCHES", "KINDS", "REVOCATIONS", "TxChain", "TxKind", "kind_of"]


class TxChain(Protocol):
    """What the kinds need from the chain client (``ledger.chain.client.RegistryClient``)."""

    def sign_anchor(self, account: Any, root: bytes, count: int, nonce: int, fees: Fees | None = None) -> SignedTx: ...
    def sign_revoke(
        self,
        account: Any,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        nonce: int,
        fees: Fees | None = None,
    ) -> SignedTx: ...
    def sign_anchor_for(
        self, sender: Any, agency: Any, root: bytes, count: int, nonce: int, fees: Fees | None = None
    ) -> SignedTx: ...
    def sign_revoke_for(
        self,
        sender: Any,
        agency: Any,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        nonce: int,
        fees: Fees | None = None,
    ) -> SignedTx: ...
    def anchor_record(self, agency: str, root: bytes) -> AnchorRecord | None: ...
    def find_anchor_tx(self, agency: str, root: bytes) -> bytes | None: ...
    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus: ...
    def find_revoke_tx(self, agency: str, root: bytes, data: bytes) -> bytes | None: ...


class TxKind(Protocol):
    """One kind of outbox transaction."""

    label: str

    def rows(self, session: Session, state: BatchState) -> Sequence[OutboxTx]:
        """The rows in ``state``, oldest first; for ``built``, only those that may be signed now."""
        ...

    def sign(
        self, session: Session, chain: TxChain, account: Any, row: Any, nonce: int, fees: Fees, sender: Any | None
    ) -> SignedTx:
        """``row``'s transaction with ``nonce``: sent by ``sender`` for the agency ``account`` (which signs its
        EIP-712 authorisation), or by ``account`` itself when ``sender`` is None."""
        ...

    def tx_on_chain(self, session: Session, chain: TxChain, row: Any) -> bytes | None:
        """The transaction that already did on chain what ``row`` asks; None when the registry does not hold it yet
        (or its transaction cannot be found)."""
        ...


class _Batches:
    label = "batch"

    def rows(self, session: Session, state: BatchState) -> Sequence[AnchorBatch]:
        stmt = select(AnchorBatch).where(AnchorBatch.state == state).order_by(col(AnchorBatch.id))
        return session.exec(stmt).all()

    def sign(
        self, session: Session, chain: TxChain, account: Any, row: AnchorBatch, nonce: int, fees: Fees, sender: Any
    ) -> SignedTx:
        if sender is None:
            return chain.sign_anchor(account, row.root, row.count, nonce, fees)
        return chain.sign_anchor_for(sender, account, row.root, row.count, nonce, fees)

    def tx_on_chain(self, session: Session, chain: TxChain, row: AnchorBatch) -> bytes | None:
        # Anchors are keyed by account and root: another account's anchor of the same root is not ours.
        if chain.anchor_record(row.account, row.root) is None:
            return None
        return chain.find_anchor_tx(row.account, row.root)


class _Revocations:
    label = "revocation"

    def rows(self, session: Session, state: BatchState) -> Sequence[RevocationTx]:
        stmt = select(RevocationTx).where(RevocationTx.state == state)
        if state == BatchState.BUILT:  # the registry revokes only what it knows: wait for the document's batch
            stmt = (
                stmt.join(AnchorLeaf, col(AnchorLeaf.data) == col(RevocationTx.data))
                .join(AnchorBatch, col(AnchorBatch.id) == col(AnchorLeaf.batch_id))
                .where(col(AnchorBatch.state).in_(CONFIRMED_STATES))
            )
        return session.exec(stmt.order_by(col(RevocationTx.id))).all()

    def sign(
        self, session: Session, chain: TxChain, account: Any, row: RevocationTx, nonce: int, fees: Fees, sender: Any
    ) -> SignedTx:
        found = leaf_proof(session, row.data)
        assert found is not None  # rows() gives only revocations whose batch is confirmed
        root, path = bytes(found.batch.root), found.path
        if sender is None:
            return chain.sign_revoke(account, root, row.data, path, row.reason, row.replaced_by, nonce, fees)
        return chain.sign_revoke_for(sender, account, root, row.data, path, row.reason, row.replaced_by, nonce, fees)

    def tx_on_chain(self, session: Session, chain: TxChain, row: RevocationTx) -> bytes | None:
        root = _root_of(session, row.data)
        if root is None or not chain.status(row.account, root, row.data).revoked:
            return None
        # Revoked on chain: by this revocation's own transaction, or by the city admin (who may revoke any document).
        return chain.find_revoke_tx(row.account, root, row.data)


def _root_of(session: Session, data: bytes) -> bytes | None:
    stmt = (
        select(AnchorBatch.root)
        .join(AnchorLeaf, col(AnchorLeaf.batch_id) == col(AnchorBatch.id))
        .where(AnchorLeaf.data == data)
    )
    root = session.exec(stmt).first()
    return None if root is None else bytes(root)


BATCHES = _Batches()
REVOCATIONS = _Revocations()
#: In the order a pass sends them: a revocation never waits on a batch of the same pass (its batch is confirmed).
KINDS: tuple[TxKind, ...] = (BATCHES, REVOCATIONS)


def kind_of(row: OutboxTx) -> TxKind:
    return REVOCATIONS if isinstance(row, RevocationTx) else BATCHES
