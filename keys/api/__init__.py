"""HTTP routes of keys/: trust list, trust root, JWKS, and the API-key dependency."""

from keys.api.routes import authenticated, build_router, require

__all__ = ["authenticated", "build_router", "require"]
