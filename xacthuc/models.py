"""Every table, imported in one place so that migrations and ``create_all`` see the whole schema."""

from identity.models import Citizen, Credential, StatusListRow
from keys.agencies import Agency, ApiKey
from ledger.chain.index import ChainCursor, IndexedAnchor, IndexedRevocation
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, RevocationTx
from ledger.documents.issuing import DocumentRow

__all__ = [
    "Agency",
    "AnchorBatch",
    "AnchorLeaf",
    "ApiKey",
    "ChainCursor",
    "Citizen",
    "Credential",
    "DocumentRow",
    "IndexedAnchor",
    "IndexedRevocation",
    "RevocationTx",
    "StatusListRow",
]
