"""Authority between agencies (table ``keys_agency_authority``): which agency may supersede another's documents.

A row ``(superior_id, subordinate_id)`` records that the superior agency has authority over the subordinate one (a
city People's Committee over a district's), so a document the superior issues may replace one the subordinate
issued (``ledger.documents.replacement``). Authority is recorded pair by pair and is not transitive: a city over a
district and the district over a ward does not give the city authority over the ward until that pair is recorded
too, so what an agency may supersede is exactly what the list says. Managed by the city's operator
(``xacthuc agency authority add|list|remove``); the HTTP API only reads it through the revocation rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from keys.agencies import get_agency
from keys.errors import InvalidInput, NotFound, XacthucError
from keys.validity import utc

__all__ = [
    "AgencyAuthority",
    "Authority",
    "AuthorityExists",
    "AuthorityInvalid",
    "AuthorityNotFound",
    "add_authority",
    "has_authority",
    "list_authorities",
    "remove_authority",
]


class AgencyAuthority(SQLModel, table=True):
    __tablename__ = "keys_agency_authority"

    superior_id: str = Field(primary_key=True, foreign_key="keys_agencies.id", max_length=64)
    subordinate_id: str = Field(primary_key=True, foreign_key="keys_agencies.id", index=True, max_length=64)
    note: str = Field(default="", max_length=300)
    created_at: datetime


@dataclass(frozen=True)
class Authority:
    """One recorded authority: ``superior_id`` over ``subordinate_id``."""

    superior_id: str
    subordinate_id: str
    note: str
    created_at: datetime


class AuthorityInvalid(InvalidInput):
    """An authority between agencies cannot be recorded (an agency over itself, a note too long)."""

    code = "AGENCY_AUTHORITY_INVALID"


class AuthorityExists(XacthucError):
    """This authority between the two agencies is already recorded."""

    code = "AGENCY_AUTHORITY_EXISTS"
    http_status = 409


class AuthorityNotFound(NotFound):
    """No such authority between the two agencies is recorded."""

    code = "AGENCY_AUTHORITY_NOT_FOUND"


def _out(row: AgencyAuthority) -> Authority:
    return Authority(row.superior_id, row.subordinate_id, row.note, utc(row.created_at))


def add_authority(
    session: Session, superior_id: str, subordinate_id: str, *, now: datetime, note: str = ""
) -> Authority:
    """Record that ``superior_id`` has authority over ``subordinate_id``; both agencies must exist. The caller
    commits."""
    if superior_id == subordinate_id:
        raise AuthorityInvalid("an agency cannot be recorded as having authority over itself")
    if len(note) > 300:
        raise AuthorityInvalid("note: at most 300 characters")
    get_agency(session, superior_id)
    get_agency(session, subordinate_id)
    if session.get(AgencyAuthority, (superior_id, subordinate_id)) is not None:
        raise AuthorityExists(f"{superior_id} already has authority over {subordinate_id}")
    row = AgencyAuthority(superior_id=superior_id, subordinate_id=subordinate_id, note=note, created_at=utc(now))
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # recorded by a concurrent command first
        session.rollback()
        raise AuthorityExists(f"{superior_id} already has authority over {subordinate_id}") from None
    return _out(row)


def remove_authority(session: Session, superior_id: str, subordinate_id: str) -> Authority:
    """Remove a recorded authority (documents it allowed to supersede stay superseded). The caller commits."""
    row = session.get(AgencyAuthority, (superior_id, subordinate_id))
    if row is None:
        raise AuthorityNotFound(f"{superior_id} has no recorded authority over {subordinate_id}")
    out = _out(row)
    session.delete(row)
    session.flush()
    return out


def list_authorities(session: Session, agency_id: str | None = None) -> list[Authority]:
    """Every recorded authority, or those where ``agency_id`` is the superior or the subordinate."""
    stmt = select(AgencyAuthority)
    if agency_id is not None:
        stmt = stmt.where(
            (col(AgencyAuthority.superior_id) == agency_id) | (col(AgencyAuthority.subordinate_id) == agency_id)
        )
    rows = session.exec(stmt.order_by(col(AgencyAuthority.superior_id), col(AgencyAuthority.subordinate_id)))
    return [_out(r) for r in rows]


def has_authority(session: Session, superior_id: str, subordinate_id: str) -> bool:
    """Whether ``superior_id`` is recorded as having authority over ``subordinate_id`` (directly; not transitive)."""
    return session.get(AgencyAuthority, (superior_id, subordinate_id)) is not None
