"""A stored document's derived status, its anchor proof, its public JSON and its proof bundle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ledger.chain.outbox import CONFIRMED_STATES, RevocationTx, as_utc, leaf_proof, revocation_of
from ledger.chain.proof import Proof
from ledger.documents.issuing import BUNDLE_TYPE, DocumentNotFound, DocumentRow, receipt_json
from ledger.documents.receipt import verify_link

__all__ = [
    "DocumentView",
    "build_bundle",
    "document_json",
    "get_document",
    "proof_for",
    "replacement_for",
    "status_of",
    "successor_of",
]


# ------------------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class DocumentView:
    """A stored document with its derived status, its proof once anchored, and its revocation once recorded."""

    row: DocumentRow
    status: str
    proof: Proof | None
    revocation: RevocationTx | None = None
    replacement: dict[str, str] | None = None  # {"document_id", "number", "leaf"} of a recorded replacement


def _proof(session: Session, leaf: bytes, chain_id: int, contract: str) -> Proof | None:
    found = leaf_proof(session, leaf)
    if found is None:
        return None
    batch = found.batch
    if batch.state not in CONFIRMED_STATES or batch.tx_hash is None or batch.block_number is None:
        return None
    if batch.anchored_at is None:
        return None
    return Proof(
        root=bytes(batch.root),
        path=found.path,
        leaf=leaf,
        chain_id=chain_id,
        contract=contract,
        tx_hash=batch.tx_hash,
        block=int(batch.block_number),
        anchored_at=as_utc(batch.anchored_at),
    )


def proof_for(session: Session, leaf: bytes) -> Proof | None:
    """The anchor proof of the document whose commitment is ``leaf``, once its batch is confirmed; else None."""
    doc = session.exec(select(DocumentRow.chain_id, DocumentRow.contract).where(DocumentRow.commitment == leaf)).first()
    if doc is None:
        return None
    return _proof(session, leaf, doc[0], doc[1])


def status_of(row: DocumentRow, proof: Proof | None, revocation: RevocationTx | None = None) -> str:
    """pending, anchored, revoked or superseded: derived from the chain's state as the worker saw it, never stored.

    A revocation counts once its transaction is confirmed on chain, as it does for a verifier; while it is on its
    way (or sent again after a re-organisation) the document is still ``anchored``, its ``revocation`` says where
    the revocation is.
    """
    if revocation is not None and revocation.state in CONFIRMED_STATES:
        return "superseded" if row.revocation_reason == "replaced" else "revoked"
    return "anchored" if proof is not None else "pending"


def get_document(session: Session, document_id: str) -> DocumentView:
    """The document, its status and proof; :class:`DocumentNotFound` if there is none."""
    if not isinstance(document_id, str) or len(document_id) > 26:
        raise DocumentNotFound("no such document")
    row = session.get(DocumentRow, document_id.upper())
    if row is None:
        raise DocumentNotFound("no such document")
    proof = _proof(session, row.commitment, row.chain_id, row.contract)
    revocation = revocation_of(session, row.id) if row.revoked_at is not None else None
    replacement = None
    if row.replaced_by is not None:
        found = session.exec(
            select(DocumentRow.number, DocumentRow.commitment).where(DocumentRow.id == row.replaced_by)
        ).first()
        if found is not None:
            replacement = {"document_id": row.replaced_by, "number": found[0], "leaf": "0x" + bytes(found[1]).hex()}
    return DocumentView(row, status_of(row, proof, revocation), proof, revocation, replacement)


def replacement_for(session: Session, leaf: bytes) -> dict[str, Any] | None:
    """The number and id of the document whose commitment is ``leaf`` (to name a replacement), or None."""
    found = session.exec(select(DocumentRow.id, DocumentRow.number).where(DocumentRow.commitment == leaf)).first()
    return None if found is None else {"document_id": found[0], "number": found[1]}


def successor_of(session: Session, leaf: bytes) -> tuple[str, str | None] | None:
    """The receipt payload of the document whose commitment is ``leaf`` and the id of the document recorded as its
    replacement (None if none): what a verifier needs to follow a chain of supersessions through this database."""
    found = session.exec(
        select(DocumentRow.payload, DocumentRow.replaced_by).where(DocumentRow.commitment == leaf)
    ).first()
    return None if found is None else (found[0], found[1])


def document_json(view: DocumentView, public_url: str) -> dict[str, Any]:
    """The ``GET /v1/documents/{id}`` body (ARCHITECTURE.md): metadata, hash, status, receipt, link, proof."""
    row = view.row
    body: dict[str, Any] = {
        "id": row.id,
        "agency_id": row.agency_id,
        **row.metadata_dict,
        "sha256": row.sha256,
        "status": view.status,
        "receipt": receipt_json(row.receipt(), row.payload),
        "verify_url": verify_link(public_url, row.payload),
        "qr_url": f"{public_url.rstrip('/')}/v1/documents/{row.id}/qr.png",
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }
    if view.proof is not None:
        body["proof"] = view.proof.to_dict()
    if row.revoked_at is not None:
        sent = view.revocation
        body["revocation"] = {
            "reason": row.revocation_reason,
            "note": row.revocation_note,
            "replaced_by": row.replaced_by,
            "revoked_at": _iso(row.revoked_at),  # when the agency recorded it
            "state": None if sent is None else sent.state,  # built, sent, confirmed, final or failed
            "tx_hash": None if sent is None else sent.tx_hash,
            "block": None if sent is None else sent.block_number,
            "confirmed_at": None if sent is None or sent.mined_at is None else _iso(sent.mined_at),  # block time
        }
    return body


def _iso(t: datetime) -> str:
    return as_utc(t).isoformat().replace("+00:00", "Z")


def build_bundle(view: DocumentView, *, trust_list: str, root_kid: str, public_url: str) -> dict[str, Any]:
    """The proof bundle: everything ``xacthuc verify bundle.json --rpc-url URL --trust-root ROOT.jwk`` needs.

    The signed trust list rides along; the verifier checks it against the root key it pinned itself. A document
    recorded as replaced names its replacement (``replaced_by``: id, number, leaf), so a verifier can follow a chain
    of supersessions; the chain, not this, says whether it is superseded.
    """
    row = view.row
    bundle: dict[str, Any] = {
        "type": BUNDLE_TYPE,
        "version": 1,
        "payload": row.payload,
        "receipt": receipt_json(row.receipt(), row.payload),
        "metadata": row.metadata_dict,
        "proof": None if view.proof is None else view.proof.to_dict(),
        "registry": {"chain_id": row.chain_id, "contract": row.contract},
        "trust": {"root_kid": root_kid, "trust_list": trust_list, "trust_root_url": f"{public_url}/v1/trust-root"},
    }
    if view.replacement is not None:
        bundle["replaced_by"] = dict(view.replacement)
    return bundle
