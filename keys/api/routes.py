"""Thin HTTP layer over keys/: publication endpoints and the ``require(role)`` authentication dependency.

``GET /v1/trust-list`` answers the compact JWS itself with ``Content-Type: application/jwt``: verifiers pin the
root key and need the exact signed bytes, and a JSON wrapper would only add a layer to peel off.
"""
# no `from __future__ import annotations`: FastAPI must see the closure-local dependency in the signature

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPBearer
from sqlmodel import Session
from starlette.requests import HTTPConnection

from keys.agencies import Principal, authenticate, bearer_token, require_role
from keys.api.schema import Jwk, Jwks
from keys.bootstrap import City

JWT_MEDIA_TYPE = "application/jwt"


class _AuthorizationHeader(HTTPBearer):
    """The raw ``Authorization`` header, for ``keys.agencies.bearer_token`` to parse strictly (FastAPI's own
    ``HTTPBearer`` splits at the first space, so ``Bearer Bearer <key>`` came through as ``Bearer <key>``). It stays
    an ``HTTPBearer`` for the OpenAPI security scheme."""

    async def __call__(self, request: HTTPConnection) -> str | None:  # type: ignore[override]
        return request.headers.get("Authorization")


_authorization = _AuthorizationHeader(
    scheme_name="HTTPBearer", auto_error=False, description="An agency API key: `Authorization: Bearer xk_...`"
)


def authenticated(get_session: Callable[[], Iterator[Session]]) -> Callable[..., Principal]:
    """A FastAPI dependency: the ``Principal`` of the request's API key, else 401 ``UNAUTHENTICATED``. Every
    API-key check goes through it (``require`` here, ``identity.api.require_any``)."""

    def dependency(
        authorization: Annotated[str | None, Depends(_authorization)],
        session: Annotated[Session, Depends(get_session)],
    ) -> Principal:
        return authenticate(session, bearer_token(authorization))

    return dependency


def require(role: str, get_session: Callable[[], Iterator[Session]]) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's ``Principal`` if its API key is valid (else 401 ``UNAUTHENTICATED``)
    and holds ``role`` (else 403 ``FORBIDDEN``). Errors are raised as ``XacthucError``s for the app's handler."""

    def dependency(principal: Annotated[Principal, Depends(authenticated(get_session))]) -> Principal:
        return require_role(principal, role)

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
        responses={
            200: {"content": {JWT_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "The signed trust list"}
        },
    )
    def trust_list() -> Response:
        token = city_provider().build_trust_list(clock())
        return Response(content=token, media_type=JWT_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=60"})

    @router.get("/v1/trust-root", response_model=None, responses={200: {"model": Jwk, "description": "The root key"}})
    def trust_root() -> dict[str, Any]:
        """The city root public key (JWK). Pin it out of band; this is for first use only."""
        return city_provider().root_jwk()

    @router.get("/.well-known/jwks.json", response_model=None, responses={200: {"model": Jwks, "description": "JWKS"}})
    def jwks() -> dict[str, Any]:
        """Every public key (root and agencies), compromised keys left out; validity lives in the trust list."""
        return city_provider().jwks()

    return router
