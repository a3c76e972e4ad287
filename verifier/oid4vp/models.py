"""The presentation request table of the OpenID4VP verifier."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class PresentationRequest(SQLModel, table=True):
    """One relying party's request for a citizen ID presentation, and, once answered, its verification report.

    Two random values name it: ``handle`` goes into the QR code (request and response URIs, ``state``); the secret id
    that reads the result is held only by the relying party's page and stored here only as its SHA-256
    (``id_hash``), so neither a photo of the QR code nor a copy of this table reads a result.
    """

    __tablename__ = "verifier_presentation_request"

    id_hash: str = Field(primary_key=True, max_length=64)
    handle: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=64)
    client_id: str = Field(max_length=100)
    claims: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purpose: str | None = Field(default=None, max_length=200)
    state: str = Field(max_length=16)  # pending, answered, refused; "expired" is read from expires_at
    created_at: datetime
    expires_at: datetime = Field(index=True)
    answered_at: datetime | None = None
    report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
