"""HTTP routes of identity/ (the only part of identity/ that imports FastAPI)."""

from identity.api.routes import build_router

__all__ = ["build_router"]
