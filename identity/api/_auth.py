"""An API-key dependency accepting any of several roles (revocation: the issuing agency's ``identity:revoke`` or
the city's ``admin``). ``keys.api.require`` covers the single-role case.

No ``from __future__ import annotations`` here: FastAPI must evaluate the dependency annotations at definition time.
"""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from keys.agencies import Principal, authenticate
from keys.errors import Forbidden

_bearer = HTTPBearer(auto_error=False, description="An agency API key: `Authorization: Bearer xk_...`")


def require_any(roles: tuple[str, ...], get_session: Callable[[], Iterator[Session]]) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's ``Principal`` if its API key is valid (else 401 ``UNAUTHENTICATED``) and
    holds at least one of ``roles`` (else 403 ``FORBIDDEN``)."""

    def dependency(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        session: Annotated[Session, Depends(get_session)],
    ) -> Principal:
        principal = authenticate(session, None if credentials is None else credentials.credentials)
        if not principal.roles.intersection(roles):
            raise Forbidden(f"this API key lacks the role {' or '.join(roles)}", role=roles[0])
        return principal

    return dependency
