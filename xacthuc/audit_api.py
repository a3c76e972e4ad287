"""``GET /v1/audit``: the audit log (``xacthuc.audit``) for the city's administrator (an API key with ``admin``)."""
# no `from __future__ import annotations`: FastAPI must see the closure-local dependencies in the signatures

from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import Session

from keys.agencies import Principal
from keys.api import AUTH_ERRORS, error_responses
from keys.bootstrap import CITY_ID
from keys.errors import Forbidden, InvalidInput
from xacthuc.audit import ACTIONS, MAX_LIMIT, AuditQuery, audit_json, read_audit

__all__ = ["build_audit_router"]

Action = Literal[ACTIONS]  # type: ignore[valid-type]


class AuditEntryOut(BaseModel):
    id: int
    at: str
    action: Action
    actor: str
    agency_id: str | None
    document_id: str | None
    address: str
    detail: dict[str, Any]


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    next_before: int | None  # pass as ``before`` for the next (older) page; null on the last page


def build_audit_router(
    *, session: Callable[[], Iterator[Session]], require_admin: Callable[..., Principal]
) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/v1/audit",
        response_model=AuditOut,
        responses=error_responses(*AUTH_ERRORS, InvalidInput),
    )
    def audit(
        _admin: Annotated[Principal, Depends(require_admin)],
        db: Annotated[Session, Depends(session)],
        agency_id: Annotated[str | None, Query(max_length=64)] = None,
        document_id: Annotated[str | None, Query(max_length=26)] = None,
        action: Annotated[Action | None, Query()] = None,
        actor: Annotated[str | None, Query(max_length=100, description="e.g. staff:canbo.ubnd-hcm")] = None,
        before: Annotated[int | None, Query(ge=1, description="Only entries older than this id (paging)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """Who did what, when and from where, newest first: sign-ins and failed sign-ins, documents issued, revoked
        and superseded through the portal, staff accounts created, disabled and given new passwords. The city's
        administrator only: an agency's own ``admin`` key (for its register of offices) reads none of it."""
        if _admin.agency_id != CITY_ID:
            raise Forbidden("only the city's administrator reads the audit log", role="admin")
        query = AuditQuery(
            agency_id=agency_id, document_id=document_id, action=action, actor=actor, before=before, limit=limit
        )
        entries = read_audit(db, query)
        last = entries[-1].id if len(entries) == limit else None
        return {"entries": [audit_json(e) for e in entries], "next_before": last}

    return router
