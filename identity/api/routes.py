"""Thin HTTP layer over identity.service: parse, call the domain, map the result. Errors propagate as
``XacthucError`` for the app's single exception handler.

The issuer of a credential is always the authenticated agency: its id goes into ``iss`` and its own key ring signs.
A status list belongs to one issuer and is signed with that issuer's current key.

No ``from __future__ import annotations`` here: FastAPI must evaluate the dependency annotations at definition time.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, WithJsonSchema
from sqlmodel import Session

from identity import service
from identity.cccd import SEXES, parse_citizen
from identity.errors import (
    CccdInvalid,
    CccdMismatch,
    CitizenExists,
    CitizenInputError,
    CitizenNotFound,
    CredentialNotFound,
    HolderKeyInvalid,
    StatusListFull,
    StatusListNotFound,
)
from keys.agencies import Principal
from keys.api import AUTH_ERRORS, error_responses
from keys.bootstrap import CITY_ID
from keys.protocols import Signer

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
ADMIN_ROLE = "admin"

_JWT = {"type": "string", "description": "A compact JWS"}
_SEX = {"type": "string", "enum": list(SEXES)}
_TEXT = {"type": "string", "maxLength": 200}
# The bodies are parsed by the domain (``parse_citizen``: one rule, errors naming the field); these schemas state
# what it accepts.
_CITIZEN_IN = {
    "type": "object",
    "required": ["cccd", "full_name", "birth_date", "sex", "place_of_origin", "place_of_residence"],
    "properties": {
        "cccd": {
            "type": "string",
            "pattern": "^[0-9]{12}$",
            "description": "The CCCD number: province code, century and sex digit, birth year, six digits",
        },
        "full_name": {**_TEXT, "description": "Split into family and given name unless those are given"},
        "family_name": _TEXT,
        "given_name": _TEXT,
        "birth_date": {"type": "string", "format": "date"},
        "sex": _SEX,
        "nationality": {"type": "string", "default": "VN", "description": "ISO 3166-1 alpha-2"},
        "place_of_origin": _TEXT,
        "place_of_residence": _TEXT,
    },
}
_CREDENTIAL_IN = {
    "type": "object",
    "properties": {
        "holder_jwk": {
            "type": "object",
            "description": "The wallet's public key (P-256 or Ed25519, no private part): the credential's cnf",
            "required": ["kty", "crv", "x"],
            "properties": {
                "kty": {"type": "string", "enum": ["EC", "OKP"]},
                "crv": {"type": "string", "enum": ["P-256", "Ed25519"]},
                "x": {"type": "string"},
                "y": {"type": "string", "description": "P-256 only"},
            },
        }
    },
}


class CitizenOut(BaseModel):
    id: str
    full_name: str
    birth_date: str
    sex: Annotated[str, WithJsonSchema(_SEX)]
    nationality: str


class CredentialOut(BaseModel):
    id: str
    credential: str


class RevokedOut(BaseModel):
    id: str
    revoked_at: datetime


def status_base_url(public_base_url: str) -> str:
    """Where status lists are served; ``status.status_list.uri`` of a credential is ``{this}/{list id}``."""
    return public_base_url.rstrip("/") + "/v1/status-lists"


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    require_issue: Callable[..., Principal],
    require_revoke: Callable[..., Principal],
    signer_for: Callable[[str, datetime], Signer],
    clock: Callable[[], datetime],
    public_base_url: str,
    credential_ttl: timedelta = service.DEFAULT_TTL,
    status_ttl: timedelta = service.STATUS_TTL,
) -> APIRouter:
    """The identity routes.

    ``session`` is a FastAPI dependency yielding a session. ``require_issue`` and ``require_revoke`` are dependencies
    returning the authenticated ``Principal`` (``identity:issue``; ``identity:revoke`` or ``admin``).
    ``signer_for(agency_id, now)`` gives that agency's current signing key.
    """
    router = APIRouter(tags=["identity"])
    status_base = status_base_url(public_base_url)
    db_dep = Depends(session)

    @router.post(
        "/v1/citizens",
        status_code=201,
        response_model=CitizenOut,
        responses=error_responses(*AUTH_ERRORS, CitizenExists, 413, CitizenInputError, CccdInvalid, CccdMismatch),
    )
    def register(
        db: Annotated[Session, db_dep],
        principal: Annotated[Principal, Depends(require_issue)],
        body: Annotated[dict[str, Any], WithJsonSchema(_CITIZEN_IN), Body()],
    ) -> CitizenOut:
        """Register a citizen in the calling agency's own registry (CCCD number checked against province,
        century/sex digit and birth year)."""
        now = clock()
        citizen = service.register_citizen(db, parse_citizen(body, now=now), now, agency_id=principal.agency_id)
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
        responses=error_responses(*AUTH_ERRORS, CitizenNotFound, 413, HolderKeyInvalid, StatusListFull),
    )
    def issue(
        db: Annotated[Session, db_dep],
        principal: Annotated[Principal, Depends(require_issue)],
        citizen_id: str,
        body: Annotated[dict[str, Any] | None, WithJsonSchema(_CREDENTIAL_IN), Body()] = None,
    ) -> CredentialOut:
        """Issue the citizen's SD-JWT VC, signed by the calling agency, bound to ``holder_jwk`` when given.
        Only for a citizen the calling agency registered: any other id is 404 ``CITIZEN_NOT_FOUND``."""
        holder_jwk = (body or {}).get("holder_jwk")
        if holder_jwk is not None and not isinstance(holder_jwk, dict):
            raise HolderKeyInvalid("holder_jwk must be a public JWK object")
        now = clock()
        cid, compact = service.issue_credential(
            db,
            citizen_id,
            signer_for(principal.agency_id, now),
            principal.agency_id,
            holder_jwk,
            now,
            credential_ttl,
            status_base_url=status_base,
            iss=service.credential_issuer(public_base_url, principal.agency_id),
        )
        db.commit()
        return CredentialOut(id=cid, credential=compact)

    @router.post(
        "/v1/credentials/{credential_id}/revoke",
        response_model=RevokedOut,
        responses=error_responses(*AUTH_ERRORS, CredentialNotFound),
    )
    def revoke(
        db: Annotated[Session, db_dep],
        principal: Annotated[Principal, Depends(require_revoke)],
        credential_id: str,
    ) -> RevokedOut:
        """Revoke a credential: the issuing agency or the city admin only (an agency's own ``admin`` key is no
        city admin: it revokes only what its agency issued)."""
        city_admin = ADMIN_ROLE in principal.roles and principal.agency_id == CITY_ID
        only_issuer = None if city_admin else principal.agency_id
        credential = service.revoke_credential(db, credential_id, clock(), issuer_id=only_issuer)
        db.commit()
        assert credential.revoked_at is not None
        return RevokedOut(id=credential.id, revoked_at=credential.revoked_at)

    @router.get(
        "/v1/status-lists/{list_id}",
        response_class=Response,
        responses={
            200: {"content": {STATUS_LIST_MEDIA_TYPE: {"schema": _JWT}}, "description": "Token Status List JWT"},
            **error_responses(StatusListNotFound),
        },
    )
    def status_list(db: Annotated[Session, db_dep], list_id: str) -> Response:
        """The status list as a signed Token Status List JWT (public, cacheable)."""
        now = clock()
        issuer = service.status_list_issuer(db, list_id)
        token = service.status_list_token(
            db, list_id, signer_for(issuer, now), status_base_url=status_base, now=now, ttl=status_ttl
        )
        return Response(
            token,
            media_type=STATUS_LIST_MEDIA_TYPE,
            headers={"Cache-Control": f"public, max-age={int(status_ttl.total_seconds())}"},
        )

    return router
