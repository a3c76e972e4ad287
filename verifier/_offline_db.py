"""What the server knows, read for the offline bundle: anchored roots (with their leaves), revocations, status lists.

The source is this server's database (``ledger_batch``, ``ledger_document``, ``identity_status_list``): a batch
counts once it is ``confirmed`` or ``final`` (as for proofs), a revocation once it is recorded (after its
transaction was mined). Times are the ones recorded here, so ``revoked_at`` is when this server recorded the
revocation, a few seconds after the block. The chain index (when there is one) would give block times instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from identity.models import StatusListRow
from identity.status_list import StatusList, status_list_jwt
from keys.errors import XacthucError
from keys.protocols import Signer
from ledger.documents import REASONS, DocumentRow
from ledger.merkle import MerkleTree
from ledger.outbox import AnchorBatch, AnchorLeaf, BatchState, as_utc

__all__ = ["AnchoredRoot", "Revocation", "read_revocations", "read_roots", "read_status_lists"]

_CONFIRMED = (BatchState.CONFIRMED.value, BatchState.FINAL.value)
STATUS_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class AnchoredRoot:
    """An anchored Merkle root: who anchored it, when and where, and its leaf hashes in tree order."""

    root: bytes
    anchorer: str
    anchored_at: datetime
    block: int
    tx_hash: str
    leaves: tuple[bytes, ...]  # leaf hashes (keccak256(0x00 || data)), as the stored tree holds them


@dataclass(frozen=True)
class Revocation:
    """A revoked ``(root, data)``: the registry's reason code, when, and the replacement's leaf data if any."""

    root: bytes
    data: bytes
    reason: int
    revoked_at: datetime
    replaced_by: bytes | None
    replacement: dict[str, str] | None  # {"number", "document_id"} of the replacement, when this server knows it


def read_roots(session: Session) -> list[AnchoredRoot]:
    """Every confirmed batch, oldest first, with the leaf hashes of its stored tree."""
    rows = session.exec(
        select(AnchorBatch).where(col(AnchorBatch.state).in_(_CONFIRMED)).order_by(col(AnchorBatch.id))
    ).all()
    roots = []
    for b in rows:
        if b.tx_hash is None or b.block_number is None or b.anchored_at is None:
            continue
        tree = MerkleTree.from_bytes(bytes(b.tree))
        roots.append(
            AnchoredRoot(
                bytes(b.root), b.account, as_utc(b.anchored_at), int(b.block_number), b.tx_hash, tuple(tree.leaf_hashes)
            )
        )
    return roots


def read_revocations(session: Session) -> list[Revocation]:
    """Every recorded revocation of an anchored document, with its root and its replacement's leaf and number."""
    stmt = (
        sa_select(
            col(DocumentRow.commitment),
            col(DocumentRow.revocation_reason),
            col(DocumentRow.revoked_at),
            col(DocumentRow.replaced_by),
            col(AnchorBatch.root),
        )
        .join(AnchorLeaf, col(AnchorLeaf.data) == col(DocumentRow.commitment))
        .join(AnchorBatch, col(AnchorLeaf.batch_id) == col(AnchorBatch.id))
        .where(col(DocumentRow.revoked_at).is_not(None), col(AnchorBatch.state).in_(_CONFIRMED))
        .order_by(col(DocumentRow.revoked_at))
    )
    out = []
    for data, reason, revoked_at, replaced_by, root in session.connection().execute(stmt).all():
        replacement_leaf: bytes | None = None
        replacement: dict[str, str] | None = None
        if replaced_by:
            found = session.exec(
                select(DocumentRow.commitment, DocumentRow.number).where(DocumentRow.id == replaced_by)
            ).first()
            if found is not None:
                replacement_leaf = bytes(found[0])
                replacement = {"number": found[1], "document_id": replaced_by}
        code = int(REASONS[reason]) if reason in REASONS else int(REASONS["other"])
        assert revoked_at is not None
        out.append(Revocation(bytes(root), bytes(data), code, as_utc(revoked_at), replacement_leaf, replacement))
    return out


def read_status_lists(
    session: Session,
    signer_for: Callable[[str], Signer],
    *,
    status_base_url: str,
    now: datetime,
    lifetime: timedelta,
) -> dict[str, str]:
    """Every status list, as the token its issuer signs for ``GET /v1/status-lists/{id}``, living ``lifetime``.

    An issuer without a usable key (disabled, removed) is left out: its credentials are untrusted anyway.
    """
    base = status_base_url.rstrip("/")
    tokens: dict[str, str] = {}
    signers: dict[str, Signer | None] = {}
    for row in session.exec(select(StatusListRow).order_by(col(StatusListRow.id))).all():
        if row.issuer_id not in signers:
            try:
                signers[row.issuer_id] = signer_for(row.issuer_id)
            except XacthucError:
                signers[row.issuer_id] = None
        signer = signers[row.issuer_id]
        if signer is None:
            continue
        uri = f"{base}/{row.id}"
        tokens[uri] = status_list_jwt(
            signer,
            StatusList(row.size, bytes(row.bits)),
            uri=uri,
            issuer=row.issuer_id,
            now=now,
            ttl=STATUS_TTL,
            lifetime=lifetime,
        )
    return tokens
