"""Thin HTTP layer over keys/: publication endpoints and the ``require(role)`` authentication dependency.

``GET /v1/trust-list`` answers the compact JWS itself with ``Content-Type: application/jwt``: verifiers pin the
root key and need the exact signed bytes, and a JSON wrapper would only add a layer to peel off.
"""
# no `from __future__ import annotations`: FastAPI must see the closure-local dependency in the signature

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from keys.agencies import Principal, authenticate, require_role
from keys.bootstrap import City

_bearer = HTTPBearer(auto_error=False, description="An agency API key: `Authorization: Bearer xk_...`")
JWT_MEDIA_TYPE = "application/jwt"


def require(role: str, get_session: Callable[[], Iterator[Session]]) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's ``Principal`` if its API key is valid (else 401 ``UNAUTHENTICATED``)
    and holds ``role`` (else 403 ``FORBIDDEN``). Errors are raised as ``XacthucError``s for the app's handler."""

    def dependency(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        session: Annotated[Session, Depends(get_session)],
    ) -> Principal:
        token = None if credentials is None else credentials.credentials
        return require_role(authenticate(session, token), role)

    return dependency


def build_router(
    get_session: Callable[[], Iterator[Session]],
    city_provider: Callable[[], City],
    clock: Callable[[], datetime],
) -> APIRouter:
    """The public keys/ endpoints. ``get_session`` is accepted for symmetry with other packages' routers."""
    del get_session
    router = APIRouter(tags=["trust"])

    @router.get(
        "/v1/trust-list",
        response_class=Response,
        responses={200: {"content": {JWT_MEDIA_TYPE: {}}, "description": "The trust list as a compact JWS"}},
    )
    def trust_list() -> Response:
        token = city_provider().build_trust_list(clock())
        return Response(content=token, media_type=JWT_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"})

    @router.get("/v1/trust-root")
    def trust_root() -> dict[str, Any]:
        """The city root public key (JWK). Pin it out of band; this is for first use only."""
        return city_provider().root_jwk()

    @router.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return city_provider().jwks()

    return router
