"""Thin HTTP layer over identity.service: parse, call the domain, map the result. Errors propagate as
``XacthucError`` for the app's single exception handler.

No ``from __future__ import annotations`` here: FastAPI must evaluate the dependency annotations at definition time.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel
from sqlmodel import Session

from identity import service
from identity.cccd import parse_citizen
from keys.protocols import Signer

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"


class CitizenOut(BaseModel):
    id: str
    full_name: str
    birth_date: str
    sex: str
    nationality: str


class CredentialOut(BaseModel):
    id: str
    credential: str


class RevokedOut(BaseModel):
    id: str
    revoked_at: datetime


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    require_issue: Callable[..., Any],
    require_revoke: Callable[..., Any],
    signer: Callable[[], tuple[str, Signer]],
    clock: Callable[[], datetime],
    public_base_url: str,
    credential_ttl: timedelta = service.DEFAULT_TTL,
    status_ttl: timedelta = service.STATUS_TTL,
) -> APIRouter:
    """The identity routes. ``session`` is a FastAPI dependency yielding a session; ``require_issue`` and
    ``require_revoke`` are dependencies enforcing ``identity:issue`` / ``identity:revoke``; ``signer`` gives the
    identity issuer's id and signer."""
    router = APIRouter(tags=["identity"])
    status_base = public_base_url.rstrip("/") + "/v1/status-lists"
    db_dep = Depends(session)

    @router.post("/v1/citizens", status_code=201, response_model=CitizenOut, dependencies=[Depends(require_issue)])
    def register(db: Annotated[Session, db_dep], body: Annotated[dict[str, Any], Body()]) -> CitizenOut:
        citizen = service.register_citizen(db, parse_citizen(body), clock())
        db.commit()
        return CitizenOut(
            id=citizen.id,
            full_name=citizen.full_name,
            birth_date=citizen.birth_date.isoformat(),
            sex=citizen.sex,
            nationality=citizen.nationality,
        )

    @router.post(
        "/v1/citizens/{citizen_id}/credentials",
        status_code=201,
        response_model=CredentialOut,
        dependencies=[Depends(require_issue)],
    )
    def issue(
        db: Annotated[Session, db_dep], citizen_id: str, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> CredentialOut:
        issuer_id, issuer_signer = signer()
        holder_jwk = (body or {}).get("holder_jwk")
        cid, compact = service.issue_credential(
            db,
            citizen_id,
            issuer_signer,
            issuer_id,
            holder_jwk if isinstance(holder_jwk, dict) else None,
            clock(),
            credential_ttl,
            status_base_url=status_base,
        )
        db.commit()
        return CredentialOut(id=cid, credential=compact)

    @router.post(
        "/v1/credentials/{credential_id}/revoke", response_model=RevokedOut, dependencies=[Depends(require_revoke)]
    )
    def revoke(db: Annotated[Session, db_dep], credential_id: str) -> RevokedOut:
        credential = service.revoke_credential(db, credential_id, clock())
        db.commit()
        assert credential.revoked_at is not None
        return RevokedOut(id=credential.id, revoked_at=credential.revoked_at)

    @router.get("/v1/status-lists/{list_id}", response_class=Response)
    def status_list(db: Annotated[Session, db_dep], list_id: str) -> Response:
        _, issuer_signer = signer()
        token = service.status_list_token(
            db, list_id, issuer_signer, status_base_url=status_base, now=clock(), ttl=status_ttl
        )
        return Response(
            token,
            media_type=STATUS_LIST_MEDIA_TYPE,
            headers={"Cache-Control": f"public, max-age={int(status_ttl.total_seconds())}"},
        )

    return router
