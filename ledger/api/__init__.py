"""HTTP routes of ledger/: documents (issue, read, QR codes, bundles, revoke)."""

from ledger.api.routes import build_router

__all__ = ["build_router"]
