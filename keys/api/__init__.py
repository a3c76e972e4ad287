"""HTTP routes of keys/: trust list, trust root, JWKS, the API-key dependency, and the error body's schema."""

from keys.api.routes import authenticated, build_router, require
from keys.api.schema import AUTH_ERRORS, Error, ErrorResponse, error_responses

__all__ = ["AUTH_ERRORS", "Error", "ErrorResponse", "authenticated", "build_router", "error_responses", "require"]
