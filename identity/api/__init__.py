"""HTTP routes of identity/ (the only part of identity/ that imports FastAPI)."""

from identity.api._auth import require_any
from identity.api.routes import build_router, status_base_url

__all__ = ["build_router", "require_any", "status_base_url"]
