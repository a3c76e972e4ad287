"""HTTP routes of verifier/: ``POST /v1/verify`` and the minimal ``/v`` page behind QR links."""

from verifier.api.routes import build_router

__all__ = ["build_router"]
