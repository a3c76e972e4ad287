"""Thin HTTP layer over ``ledger.offices``: an agency's register of offices and delegations.

``GET /v1/agencies/{id}/offices`` is public: the signed entries with their proofs, and the offices and delegations
they make (what anyone can check a signature block against). Writing needs the ``admin`` role of the agency itself,
or the city's (its ``admin`` key manages every agency): an appointment decides who may sign the agency's documents,
so the key that issues documents (``documents:issue``) must not be able to give itself that authority.
"""
# no `from __future__ import annotations`: FastAPI must see the closure-local dependencies in the signatures

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from keys.agencies import Agency, Principal
from keys.api import AUTH_ERRORS, error_responses
from keys.errors import AgencyNotFound, Forbidden, XacthucError
from keys.protocols import Signer
from ledger.documents.receipt import Registry
from ledger.offices.errors import (
    DelegationAlreadyRevoked,
    DelegationNotFound,
    OfficeAlreadyEnded,
    OfficeFieldInvalid,
    OfficeNotFound,
    OfficeRegisterConflict,
)
from ledger.offices.register import (
    StoredEntry,
    Writer,
    add_delegation,
    add_office,
    end_office,
    register_json,
    revoke_delegation,
)

__all__ = ["DelegationIn", "DelegationRevokeIn", "OfficeEndIn", "OfficeIn", "build_router"]

_CLOSED = ConfigDict(extra="forbid", populate_by_name=True)
_WRITE: tuple[type[XacthucError] | int, ...] = (
    *AUTH_ERRORS,
    413,
    AgencyNotFound,
    OfficeFieldInvalid,
    OfficeRegisterConflict,
)
_WRITE_ERRORS = error_responses(*_WRITE)


class OfficeIn(BaseModel):
    """An appointment: who holds which title from when (until: the last day, if known)."""

    model_config = _CLOSED

    title: str = Field(description="Chức danh, e.g. Phó Chủ tịch")
    holder: str = Field(description="The holder's full name (stored in NFC; only Latin letters)")
    from_: str = Field(alias="from", description="First day in office, YYYY-MM-DD")
    until: str | None = Field(default=None, description="Last day in office, YYYY-MM-DD")
    head: bool = Field(default=False, description="The agency's head (người đứng đầu)")
    collective: bool = Field(default=False, description="The head of a collective body: signs TM.")
    deputy_of: str | None = Field(default=None, description="For a deputy (Phó ...): the head's office id, e.g. o1")
    acting: bool = Field(default=False, description="Held in an acting capacity (Quyền): signs Q.")


class OfficeEndIn(BaseModel):
    model_config = _CLOSED

    until: str = Field(description="The last day in office, YYYY-MM-DD")


class DelegationIn(BaseModel):
    """A delegation: TL. (under the agency's rules) or TUQ. (in writing, for a period: `until` and
    `authorising_number` required)."""

    model_config = _CLOSED

    form: str = Field(description="TL. or TUQ.")
    delegate: str = Field(description="Who may sign (full name)")
    delegate_title: str = Field(description="Their own title, as in the signature block")
    for_office: str | None = Field(default=None, description="The office they sign for, e.g. o1")
    document_types: list[str] = Field(default_factory=list, description="Type abbreviations (QĐ, TB, ...); none: all")
    from_: str = Field(alias="from", description="First day, YYYY-MM-DD")
    until: str | None = Field(default=None, description="Last day, YYYY-MM-DD")
    authorising_number: str | None = Field(default=None, description="The authorising document, e.g. 15/QĐ-UBND")


class DelegationRevokeIn(BaseModel):
    model_config = _CLOSED

    from_: str = Field(alias="from", description="The first day the delegation no longer covers, YYYY-MM-DD")


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    require_admin: Callable[..., Principal],
    signer_for: Callable[[str, datetime], Signer],
    address_for: Callable[[str], str],
    registry: Callable[[], Registry],
    clock: Callable[[], datetime],
    city_id: str,
) -> APIRouter:
    """The register routes. ``require_admin`` authenticates an ``admin`` key; it may write the register of its own
    agency, or of any agency when it is the city's (``city_id``)."""
    router = APIRouter(tags=["offices"])
    db_dep = Depends(session)

    def _agency(db: Session, agency_id: str) -> Agency:
        agency = db.get(Agency, agency_id) if len(agency_id) <= 64 else None
        if agency is None:
            raise AgencyNotFound(f"no agency {agency_id}")
        return agency

    def _writer(db: Session, principal: Principal, agency_id: str, now: datetime) -> Writer:
        if principal.agency_id not in (agency_id, city_id):
            raise Forbidden("only the agency itself or the city may change its register", role="admin")
        _agency(db, agency_id)
        return Writer(agency_id, signer_for(agency_id, now), address_for(agency_id), registry())

    def _written(db: Session, entry: StoredEntry) -> dict[str, Any]:
        db.commit()
        return entry.to_dict()

    @router.get("/v1/agencies/{agency_id}/offices", responses=error_responses(AgencyNotFound))
    def offices(agency_id: str, db: Annotated[Session, db_dep]) -> dict[str, Any]:
        """The agency's register: every signed entry with its anchor proof (`status` pending until anchored), and the
        offices and delegations they make. An agency without entries keeps no register (`entries` empty)."""
        _agency(db, agency_id)
        return register_json(db, agency_id)

    @router.post("/v1/agencies/{agency_id}/offices", status_code=201, responses=_WRITE_ERRORS)
    def appoint(
        agency_id: str,
        body: OfficeIn,
        principal: Annotated[Principal, Depends(require_admin)],
        db: Annotated[Session, db_dep],
    ) -> dict[str, Any]:
        """Appoint: a signed `office.add` entry, queued for anchoring. The office's id is `o<seq>`."""
        now = clock()
        fields = body.model_dump(by_alias=True)
        return _written(db, add_office(db, _writer(db, principal, agency_id, now), fields, now))

    @router.post(
        "/v1/agencies/{agency_id}/offices/{office_id}/end",
        status_code=201,
        responses=error_responses(*_WRITE, OfficeNotFound, OfficeAlreadyEnded),
    )
    def end(
        agency_id: str,
        office_id: str,
        body: OfficeEndIn,
        principal: Annotated[Principal, Depends(require_admin)],
        db: Annotated[Session, db_dep],
    ) -> dict[str, Any]:
        """End an office: a signed `office.end` entry (its last day)."""
        now = clock()
        return _written(db, end_office(db, _writer(db, principal, agency_id, now), office_id, body.until, now))

    @router.post("/v1/agencies/{agency_id}/delegations", status_code=201, responses=_WRITE_ERRORS)
    def delegate(
        agency_id: str,
        body: DelegationIn,
        principal: Annotated[Principal, Depends(require_admin)],
        db: Annotated[Session, db_dep],
    ) -> dict[str, Any]:
        """Delegate (TL. or TUQ.): a signed `delegation.add` entry. The delegation's id is `d<seq>`."""
        now = clock()
        fields = body.model_dump(by_alias=True)
        return _written(db, add_delegation(db, _writer(db, principal, agency_id, now), fields, now))

    @router.post(
        "/v1/agencies/{agency_id}/delegations/{delegation_id}/revoke",
        status_code=201,
        responses=error_responses(*_WRITE, DelegationNotFound, DelegationAlreadyRevoked),
    )
    def revoke(
        agency_id: str,
        delegation_id: str,
        body: DelegationRevokeIn,
        principal: Annotated[Principal, Depends(require_admin)],
        db: Annotated[Session, db_dep],
    ) -> dict[str, Any]:
        """Revoke a delegation from a day on: a signed `delegation.revoke` entry."""
        now = clock()
        writer = _writer(db, principal, agency_id, now)
        return _written(db, revoke_delegation(db, writer, delegation_id, body.from_, now))

    return router
