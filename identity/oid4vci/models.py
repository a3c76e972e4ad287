"""Database tables of the OpenID4VCI issuer: credential offers, access tokens and c_nonces.

Every secret is stored only as its SHA-256 (hex): the offer id in the offer URL, the pre-authorized code, the
access token and the c_nonce. A copy of the database therefore redeems nothing. The 6-digit transaction code is
hashed together with the pre-authorized code, so its million possible values cannot be tried against a copy either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

__all__ = ["AccessTokenRow", "NonceRow", "OfferRow"]


class OfferRow(SQLModel, table=True):
    """A credential offer (pre-authorized code flow) for one citizen of one agency: single use, short-lived."""

    __tablename__ = "identity_oid4vci_offer"
    __table_args__ = (Index("uq_identity_oid4vci_offer_code", "code_hash", unique=True),)

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the offer id in credential_offer_uri
    code_hash: str = Field(max_length=64)  # SHA-256 of the pre-authorized code
    tx_code_hash: str = Field(max_length=64)  # SHA-256 of "<pre-authorized code>:<tx_code>"
    citizen_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    agency_id: str = Field(max_length=200)
    created_at: datetime
    expires_at: datetime
    attempts: int = 0  # wrong transaction codes so far; MAX_TX_CODE_ATTEMPTS kills the offer
    used_at: datetime | None = None  # when a token was issued for it


class AccessTokenRow(SQLModel, table=True):
    """An access token from the token endpoint: good for one credential of the offer's citizen."""

    __tablename__ = "identity_oid4vci_access_token"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the token
    offer_id: str = Field(foreign_key="identity_oid4vci_offer.id", index=True, max_length=64)
    citizen_id: str = Field(max_length=36)
    agency_id: str = Field(max_length=200)
    expires_at: datetime
    used_at: datetime | None = None
    credential_id: str | None = Field(default=None, max_length=36)


class NonceRow(SQLModel, table=True):
    """A c_nonce from the nonce endpoint: single use in one holder proof."""

    __tablename__ = "identity_oid4vci_nonce"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the nonce
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None
