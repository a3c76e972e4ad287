"""HTTP routes of ledger/: documents (issue, read, QR codes, bundles, revoke), and their schemas."""

from ledger.api.routes import AuditHook, build_router
from ledger.api.schema import BatchIssuedOut, BundleOut, DocumentOut, IssuedOut, RevokeIn

__all__ = ["AuditHook", "BatchIssuedOut", "BundleOut", "DocumentOut", "IssuedOut", "RevokeIn", "build_router"]
