"""An API-key dependency accepting any of several roles (revocation: the issuing agency's ``identity:revoke`` or
the city's ``admin``). ``keys.api.require`` covers the single-role case.

No ``from __future__ import annotations`` here: FastAPI must evaluate the dependency annotations at definition time.
"""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from keys.agencies import Principal
from keys.api import authenticated
from keys.errors import Forbidden


def require_any(roles: tuple[str, ...], get_session: Callable[[], Iterator[Session]]) -> Callable[..., Principal]:
    """A FastAPI dependency: the request's ``Principal`` if its API key is valid (else 401 ``UNAUTHENTICATED``) and
    holds at least one of ``roles`` (else 403 ``FORBIDDEN``)."""

    def dependency(principal: Annotated[Principal, Depends(authenticated(get_session))]) -> Principal:
        if not principal.roles.intersection(roles):
            raise Forbidden(f"this API key lacks the role {' or '.join(roles)}", role=roles[0])
        return principal

    return dependency
