"""HTTP routes of verifier/: ``POST /v1/verify`` and the minimal ``/v`` page behind QR links; the report's schema."""

from verifier.api.routes import build_router
from verifier.api.schema import VerificationReport

__all__ = ["VerificationReport", "build_router"]
