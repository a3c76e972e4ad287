"""Revoking or superseding a stored document: recorded here, sent to the chain by the anchoring worker.

A revocation is written to the outbox (``ledger.chain.outbox.RevocationTx``) in the same transaction as the agency's
decision, so once the caller commits it is never lost: ``ledger.chain.anchoring.Anchorer`` sends it from the document's
anchoring account with persisted steps, re-checks it until it is final, and sends it again when a re-organisation
drops it. The document counts as revoked once that transaction is confirmed on chain (docs/documents.md). Reading
the registry's answer is ``ledger.chain`` (``RegistryReader``, ``IndexedStatusReader``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from keys.errors import Forbidden, InvalidInput
from ledger.chain.outbox import BatchState, as_utc, enqueue_revocation, revocation_of
from ledger.documents.issuing import REASONS, DocumentPendingAnchor, DocumentRevoked, DocumentRow
from ledger.documents.replacement import check_reason, check_replacement
from ledger.documents.status import DocumentView, get_document

__all__ = ["revoke_document"]


def revoke_document(
    session: Session,
    document: DocumentRow,
    *,
    agency_id: str,
    reason: str | None,
    note: str | None,
    replaced_by: str | None,
    now: datetime,
) -> DocumentView:
    """Record the revocation (or supersession) of an anchored document; the anchoring worker puts it on chain.

    Only the issuing agency may (``FORBIDDEN`` otherwise; the contract would revert ``NotAnchorer`` anyway). A
    document whose revocation is already recorded is refused (``DOC_ALREADY_REVOKED``), unless that revocation
    failed for good: this one then replaces it and is sent anew. A pending document is refused
    (``DOC_PENDING_ANCHOR``). A supersession follows ``ledger.documents.replacement``'s rules (each broken rule its
    own ``ReplacementInvalid``). The returned view shows the revocation's state; the caller commits.
    """
    if document.agency_id != agency_id:
        raise Forbidden("this document belongs to another agency")
    code = check_reason(reason, replaced_by)
    if note is not None and len(note) > 1000:
        raise InvalidInput("note: at most 1000 characters")
    existing = revocation_of(session, document.id)
    if existing is not None and existing.state != BatchState.FAILED:
        view = get_document(session, document.id)
        if view.status in ("revoked", "superseded"):
            raise DocumentRevoked(f"the document was already {view.status}")
        raise DocumentRevoked("the document's revocation is already recorded and on its way to the chain")
    if get_document(session, document.id).proof is None:
        raise DocumentPendingAnchor("the document is not anchored yet; revoke it once it is")
    replacement = check_replacement(session, document, replaced_by) if replaced_by else None
    document.revocation_reason = code
    document.revocation_note = note
    document.replaced_by = None if replacement is None else replacement.id
    document.revoked_at = as_utc(now)
    session.add(document)
    leaf = None if replacement is None else replacement.commitment
    if existing is None:
        enqueue_revocation(
            session,
            document_id=document.id,
            account=document.account,
            data=document.commitment,
            reason=int(REASONS[code]),
            replaced_by=leaf,
            now=now,
        )
    else:  # a revocation that failed for good: send this one instead
        existing.clear_sent()
        existing.reason, existing.replaced_by = int(REASONS[code]), leaf
        existing.state, existing.attempts, existing.last_error = BatchState.BUILT, 0, None
        existing.created_at = as_utc(now)
        session.add(existing)
    try:
        session.flush()
    except IntegrityError:  # a concurrent revocation of the same document was recorded first
        raise DocumentRevoked("the document's revocation is already recorded and on its way to the chain") from None
    return get_document(session, document.id)
