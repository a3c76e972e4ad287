"""Revoking or superseding a stored document (recorded here, sent to the chain by the anchoring worker), and
reading the registry's answer for verifiers.

A revocation is written to the outbox (``ledger.chain.outbox.RevocationTx``) in the same transaction as the agency's
decision, so once the caller commits it is never lost: ``ledger.chain.anchoring.Anchorer`` sends it from the document's
anchoring account with persisted steps, re-checks it until it is final, and sends it again when a re-organisation
drops it. The document counts as revoked once that transaction is confirmed on chain (docs/documents.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from web3 import HTTPProvider, Web3

from keys.errors import Forbidden, InvalidInput
from ledger.chain.outbox import BatchState, as_utc, enqueue_revocation, revocation_of
from ledger.chain.proof import DocumentChainStatus
from ledger.documents.issuing import (
    REASONS,
    DocumentPendingAnchor,
    DocumentRevoked,
    DocumentRow,
    ReplacementInvalid,
)
from ledger.documents.status import DocumentView, get_document
from ledger.errors import ChainUnavailable, LedgerError

__all__ = ["RegistryStatusReader", "revoke_document"]


# ----------------------------------------------------------------------------------------------------- revoking
def _reason(reason: str | None, replaced_by: str | None) -> str:
    if reason is None or reason == "":
        reason = "replaced" if replaced_by else None
    if reason not in REASONS:
        raise InvalidInput(f"reason: must be one of {', '.join(REASONS)}")
    if replaced_by and reason != "replaced":
        raise ReplacementInvalid("replaced_by: a replacement implies the reason 'replaced'")
    return reason


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
    (``DOC_PENDING_ANCHOR``). The returned view shows the revocation's state; the caller commits.
    """
    if document.agency_id != agency_id:
        raise Forbidden("this document belongs to another agency")
    code = _reason(reason, replaced_by)
    if note is not None and len(note) > 1000:
        raise InvalidInput("note: at most 1000 characters")
    existing = revocation_of(session, document.id)
    if existing is not None and existing.state != BatchState.FAILED:
        view = get_document(session, document.id)
        if view.status in ("revoked", "superseded"):
            raise DocumentRevoked(f"the document was already {view.status}")
        raise DocumentRevoked("the document's revocation is already recorded and on its way to the chain")
    replacement: DocumentRow | None = None
    if replaced_by:
        replacement = session.get(DocumentRow, replaced_by.upper()) if len(replaced_by) <= 26 else None
        if replacement is None or replacement.id == document.id:
            raise ReplacementInvalid("replaced_by: no such other document")
    if get_document(session, document.id).proof is None:
        raise DocumentPendingAnchor("the document is not anchored yet; revoke it once it is")
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


# ---------------------------------------------------------------------------------------------------- the chain
class _StatusClient(Protocol):
    def status(self, agency: str, root: bytes, data: bytes) -> Any: ...


class RegistryStatusReader:
    """``ledger.chain.proof.ChainStatusReader`` over the registry: one ``eth_call`` of ``status(agency, root, data)``
    each time.

    With a ``RegistryClient`` the call goes straight to the provider as one JSON-RPC request: through ``w3.eth.call``
    web3's validation middleware adds an ``eth_chainId`` round trip or two, which tripled the verification time.
    Any other ``status`` client (fakes) is called as is. Failures raise; the verifier reports them as ``error``.
    """

    def __init__(self, client: _StatusClient) -> None:
        self.client = client

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        client: Any = self.client
        if not (
            hasattr(client, "artifact") and isinstance(getattr(client, "w3", None) and client.w3.provider, HTTPProvider)
        ):
            return self._from(client.status(agency, root, data))
        if len(root) != 32 or len(data) != 32:
            raise LedgerError("root and data are 32 bytes")
        try:
            address = Web3.to_checksum_address(agency)
        except (TypeError, ValueError):
            raise LedgerError("the agency is a 20-byte hex address") from None
        encoded = client.artifact.encode_call("status", address, root, data)
        call = {"to": client.address, "data": "0x" + encoded.hex()}
        try:
            response = client.w3.provider.make_request("eth_call", [call, "latest"])
        except OSError as exc:  # requests' connection errors
            raise ChainUnavailable(f"the Ethereum node is unreachable: {type(exc).__name__}") from exc
        result = response.get("result") if isinstance(response, dict) else None
        if not isinstance(result, str):
            raise ChainUnavailable("the Ethereum node answered eth_call with an error")
        anchored_at, reason, revoked_at, replaced_by = client.artifact.decode_output(
            "status", bytes.fromhex(result.removeprefix("0x"))
        )
        return DocumentChainStatus.from_call(address, anchored_at, reason, revoked_at, replaced_by)

    @staticmethod
    def _from(s: Any) -> DocumentChainStatus:
        return DocumentChainStatus(
            anchorer=s.agency,
            anchored_at=s.anchored_at,
            reason=int(s.reason or 0),
            revoked_at=s.revoked_at,
            replaced_by=s.replaced_by,
        )
