"""HTTP routes of the OpenID4VP verifier (``/v1/presentation-requests``, ``/oid4vp/*``)."""

from verifier.oid4vp.api.routes import build_router

__all__ = ["build_router"]
