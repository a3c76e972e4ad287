"""The agency portal (``/agency``): staff sign in with their own accounts (``keys.staff``) and issue, find, revoke
and supersede their agency's documents through the same domain functions as the HTTP API; every act is audited
(``xacthuc.audit``). ``build_agency_router(services)`` gives its routes."""

from .routes import build_agency_router

__all__ = ["build_agency_router"]
