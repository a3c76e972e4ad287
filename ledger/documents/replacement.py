"""The rules a supersession follows: which document may replace which (``revoke_document`` applies them).

``reason=replaced`` needs ``replaced_by`` and ``replaced_by`` needs ``replaced``; the replacement must exist, be
another document, be issued by the same agency or by one recorded as having authority over it
(``keys.authority``), not be one the document already replaces (directly or through a chain: no cycles), have no
revocation of its own (recorded, on its way or confirmed), and be anchored in the same registry. Each broken rule
is its own error, a subclass of ``ReplacementInvalid`` (``DOC_REPLACEMENT_INVALID``), so callers that matched the
one error still do. HTTP and the CLI both go through ``revoke_document``, so they share these rules.
"""

from __future__ import annotations

from sqlmodel import Session

from keys.authority import has_authority
from keys.errors import InvalidInput
from keys.limits import REPLACEMENT_CHAIN
from ledger.documents.issuing import REASONS, DocumentRow, ReplacementInvalid
from ledger.documents.status import get_document

__all__ = [
    "MAX_CHAIN",
    "REPLACEMENT_ERRORS",
    "ReplacementCycle",
    "ReplacementNotAnchored",
    "ReplacementNotFound",
    "ReplacementOtherAgency",
    "ReplacementReasonConflict",
    "ReplacementRequired",
    "ReplacementRevoked",
    "ReplacementSelf",
    "check_reason",
    "check_replacement",
]

MAX_CHAIN = REPLACEMENT_CHAIN


class ReplacementRequired(ReplacementInvalid):
    """``reason=replaced`` without ``replaced_by``: name the document that replaces this one."""

    code = "DOC_REPLACEMENT_REQUIRED"


class ReplacementReasonConflict(ReplacementInvalid):
    """``replaced_by`` given with a reason other than ``replaced``: a replacement implies that reason."""

    code = "DOC_REPLACEMENT_REASON_CONFLICT"


class ReplacementNotFound(ReplacementInvalid):
    """``replaced_by`` names no document stored here."""

    code = "DOC_REPLACEMENT_NOT_FOUND"


class ReplacementSelf(ReplacementInvalid):
    """A document cannot replace itself."""

    code = "DOC_REPLACEMENT_SELF"


class ReplacementOtherAgency(ReplacementInvalid):
    """The replacement was issued by another agency with no recorded authority over this document's agency."""

    code = "DOC_REPLACEMENT_OTHER_AGENCY"


class ReplacementCycle(ReplacementInvalid):
    """The replacement is already replaced by this document, directly or through a chain (a cycle)."""

    code = "DOC_REPLACEMENT_CYCLE"


class ReplacementRevoked(ReplacementInvalid):
    """The replacement is itself revoked or superseded, or its revocation is recorded."""

    code = "DOC_REPLACEMENT_REVOKED"


class ReplacementNotAnchored(ReplacementInvalid):
    """The replacement is not anchored yet (or in another registry); supersede once it is anchored."""

    code = "DOC_REPLACEMENT_NOT_ANCHORED"
    http_status = 409


#: Every rule's error, for the API's documented responses.
REPLACEMENT_ERRORS: tuple[type[ReplacementInvalid], ...] = (
    ReplacementRequired,
    ReplacementReasonConflict,
    ReplacementNotFound,
    ReplacementSelf,
    ReplacementOtherAgency,
    ReplacementCycle,
    ReplacementRevoked,
    ReplacementNotAnchored,
)


def check_reason(reason: str | None, replaced_by: str | None) -> str:
    """The reason code to record: ``replaced`` when only ``replaced_by`` is given; the pairing rules enforced."""
    if reason is None or reason == "":
        reason = "replaced" if replaced_by else None
    if reason not in REASONS:
        raise InvalidInput(f"reason: must be one of {', '.join(REASONS)}")
    if replaced_by and reason != "replaced":
        raise ReplacementReasonConflict(
            f"replaced_by: a replacement implies the reason 'replaced', not {reason!r}; drop one of the two"
        )
    if reason == "replaced" and not replaced_by:
        raise ReplacementRequired("replaced_by: the reason 'replaced' needs the id of the document that replaces it")
    return reason


def _replaces(session: Session, start: DocumentRow, target_id: str) -> bool:
    """Whether following ``replaced_by`` from ``start`` reaches ``target_id`` (``start`` is then replaced by it)."""
    seen = {start.id}
    row: DocumentRow | None = start
    for _ in range(MAX_CHAIN):
        if row is None or row.replaced_by is None:
            return False
        if row.replaced_by == target_id:
            return True
        if row.replaced_by in seen:  # a loop in old data, not through the target
            return False
        seen.add(row.replaced_by)
        row = session.get(DocumentRow, row.replaced_by)
    return False


def check_replacement(session: Session, document: DocumentRow, replaced_by: str) -> DocumentRow:
    """The replacement row once every rule holds for ``document`` replaced by ``replaced_by``; else the rule's
    error (self, not found, other agency, cycle, revoked, not anchored: checked in this order)."""
    wanted = replaced_by.strip().upper()
    if wanted == document.id:
        raise ReplacementSelf("replaced_by: a document cannot replace itself; name the new document")
    replacement = session.get(DocumentRow, wanted) if 0 < len(wanted) <= 26 else None
    if replacement is None:
        raise ReplacementNotFound(f"replaced_by: no document {replaced_by!r} is stored here; issue it first")
    if replacement.agency_id != document.agency_id and not has_authority(
        session, replacement.agency_id, document.agency_id
    ):
        raise ReplacementOtherAgency(
            f"replaced_by: {replacement.id} was issued by {replacement.agency_id}, which has no recorded authority "
            f"over {document.agency_id} (an operator records it: xacthuc agency authority add "
            f"{replacement.agency_id} {document.agency_id})"
        )
    if _replaces(session, replacement, document.id):
        raise ReplacementCycle(
            f"replaced_by: {replacement.id} is already replaced by this document, directly or through a chain; "
            "a document cannot replace its own predecessor"
        )
    if replacement.revoked_at is not None:
        what = "superseded" if replacement.revocation_reason == "replaced" else "revoked"
        raise ReplacementRevoked(
            f"replaced_by: {replacement.id} is itself {what} (or its revocation is recorded); name a document in force"
        )
    if (replacement.chain_id, replacement.contract.lower()) != (document.chain_id, document.contract.lower()):
        raise ReplacementNotAnchored(f"replaced_by: {replacement.id} is anchored in another registry")
    if get_document(session, replacement.id).proof is None:
        raise ReplacementNotAnchored(
            f"replaced_by: {replacement.id} is not anchored yet; supersede once it is (seconds with the defaults)"
        )
    return replacement
