"""Every table, imported in one place so that migrations and ``create_all`` see the whole schema."""

from identity.models import Citizen, Credential, StatusListRow
from identity.oid4vci.models import AccessTokenRow, NonceRow, OfferRow
from keys.agencies import Agency, ApiKey
from keys.authority import AgencyAuthority
from keys.signin_throttle import SignInFailures
from keys.staff import StaffAccount
from keys.staff_sessions import StaffSession
from ledger.chain.index import ChainCursor, IndexedAnchor, IndexedRevocation
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, RevocationTx
from ledger.documents.idempotency import IdempotencyRow
from ledger.documents.issuing import DocumentRow
from verifier.oid4vp.models import PresentationRequest
from xacthuc.audit import AuditEntry

__all__ = [
    "AccessTokenRow",
    "Agency",
    "AgencyAuthority",
    "AnchorBatch",
    "AnchorLeaf",
    "ApiKey",
    "AuditEntry",
    "ChainCursor",
    "Citizen",
    "Credential",
    "DocumentRow",
    "IdempotencyRow",
    "IndexedAnchor",
    "IndexedRevocation",
    "NonceRow",
    "OfferRow",
    "PresentationRequest",
    "RevocationTx",
    "SignInFailures",
    "StaffAccount",
    "StaffSession",
    "StatusListRow",
]
