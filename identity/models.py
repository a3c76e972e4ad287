"""Database tables of identity/: citizens, issued credentials and status lists, on the shared SQLModel metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class Citizen(SQLModel, table=True):
    """A citizen as registered by one identity agency (``agency_id``), visible to that agency only.

    ``cccd`` is unique per agency, not city-wide: whether another agency holds a number is never revealed
    (docs/identity.md, "Citizens belong to the registering agency"). It is personal data and is never logged.
    """

    __tablename__ = "identity_citizen"
    __table_args__ = (Index("uq_identity_citizen_agency_cccd", "agency_id", "cccd", unique=True),)

    id: str = Field(primary_key=True, max_length=36)
    # The server default "" (no agency: nobody sees the row) exists because SQLite adds a NOT NULL column only with
    # one; migration 0009 leaves citizens it cannot attribute that way.
    agency_id: str = Field(max_length=200, sa_column_kwargs={"server_default": ""})
    cccd: str = Field(max_length=12)
    full_name: str = Field(max_length=200)
    family_name: str = Field(max_length=200)
    given_name: str = Field(max_length=200)
    birth_date: date
    sex: str = Field(max_length=6)
    nationality: str = Field(max_length=2)
    place_of_origin: str = Field(max_length=200)
    place_of_residence: str = Field(max_length=200)
    created_at: datetime

    def __repr__(self) -> str:
        return f"Citizen(id={self.id!r})"


class StatusListRow(SQLModel, table=True):
    """One status list: ``bits`` is the uncompressed bit string (1 = revoked)."""

    __tablename__ = "identity_status_list"

    id: str = Field(primary_key=True, max_length=36)
    issuer_id: str = Field(index=True, max_length=200)
    size: int
    used: int = 0
    bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime
    updated_at: datetime


class Credential(SQLModel, table=True):
    """An issued SD-JWT VC. The token itself is not stored: only what revocation and audit need."""

    __tablename__ = "identity_credential"
    __table_args__ = (UniqueConstraint("status_list_id", "status_idx", name="uq_identity_credential_status"),)

    id: str = Field(primary_key=True, max_length=36)
    citizen_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    issuer_id: str = Field(max_length=200)
    kid: str = Field(max_length=100)
    vct: str = Field(max_length=200)
    holder_thumbprint: str | None = Field(default=None, max_length=64)
    status_list_id: str = Field(foreign_key="identity_status_list.id", max_length=36)
    status_idx: int
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
