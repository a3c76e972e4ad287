"""Agencies and their API keys (database tables ``keys_agencies`` and ``keys_api_keys``).

An API key is ``xk_<id>_<secret>``: a public 16-hex-digit id and 256 random bits. Only SHA-256(secret) is stored.
A slow password hash would add nothing: it protects low-entropy secrets from guessing, and nobody guesses 256
random bits; a fast hash keeps authentication cheap on every request. Lookup is by id, then a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from keys.errors import AgencyExists, AgencyNotFound, ApiKeyNotFound, Forbidden, InvalidInput, Unauthenticated
from keys.validity import utc

TRUST_ROLES = ("documents", "identity")
API_ROLES = ("documents:issue", "documents:revoke", "identity:issue", "identity:revoke", "admin")
API_KEY_PREFIX = "xk"
_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
# RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token (the scheme is case-insensitive, RFC 9110 11.1).
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")


class Agency(SQLModel, table=True):
    __tablename__ = "keys_agencies"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=300)
    name_en: str = Field(default="", max_length=300)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    eth_address: str | None = Field(default=None, max_length=42)
    disabled: bool = False
    created_at: datetime


class ApiKey(SQLModel, table=True):
    __tablename__ = "keys_api_keys"

    id: str = Field(primary_key=True, max_length=16)
    agency_id: str = Field(foreign_key="keys_agencies.id", index=True, max_length=64)
    key_hash: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    """Who an authenticated request acts for."""

    agency_id: str
    roles: frozenset[str]
    api_key_id: str


@dataclass(frozen=True)
class IssuedApiKey:
    """A new API key. ``token`` is shown once and never stored."""

    id: str
    agency_id: str
    roles: tuple[str, ...]
    token: str

    def __repr__(self) -> str:
        return f"IssuedApiKey(id={self.id!r}, agency_id={self.agency_id!r}, roles={self.roles!r})"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def expand_roles(roles: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Trust roles and API roles from a mixed list: ``documents`` grants ``documents:issue`` and
    ``documents:revoke``; ``documents:issue`` implies the trust role ``documents``."""
    trust: set[str] = set()
    api: set[str] = set()
    for role in (r.strip() for r in roles):
        if not role:
            continue
        if role in TRUST_ROLES:
            trust.add(role)
            api |= {f"{role}:issue", f"{role}:revoke"}
        elif role in API_ROLES:
            api.add(role)
            if ":" in role:
                trust.add(role.split(":", 1)[0])
        else:
            raise InvalidInput(f"unknown role {role!r}; known: {', '.join(TRUST_ROLES + API_ROLES)}")
    return tuple(sorted(trust)), tuple(sorted(api))


def create_agency(
    session: Session,
    *,
    name: str,
    roles: Sequence[str],
    now: datetime,
    name_en: str = "",
    agency_id: str | None = None,
    eth_address: str | None = None,
) -> Agency:
    """Add an agency with trust roles (``documents``, ``identity``). Its keys are the City's job."""
    if not name.strip():
        raise InvalidInput("an agency needs a name")
    bad = set(roles) - set(TRUST_ROLES)
    if bad:
        raise InvalidInput(f"unknown trust roles: {', '.join(sorted(bad))}")
    agency_id = agency_id or f"ag-{secrets.token_hex(4)}"
    if not _AGENCY_ID.match(agency_id):
        raise InvalidInput("an agency id is 2-63 lowercase letters, digits or '-'")
    if session.get(Agency, agency_id) is not None:
        raise AgencyExists(f"agency {agency_id} already exists")
    agency = Agency(
        id=agency_id,
        name=name.strip(),
        name_en=name_en.strip(),
        roles=sorted(set(roles)),
        eth_address=eth_address,
        created_at=utc(now),
    )
    session.add(agency)
    session.flush()
    return agency


def get_agency(session: Session, agency_id: str) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise AgencyNotFound(f"no agency {agency_id}")
    return agency


def list_agencies(session: Session, *, include_disabled: bool = True) -> list[Agency]:
    stmt = select(Agency).order_by(Agency.id)
    agencies = list(session.exec(stmt))
    return [a for a in agencies if include_disabled or not a.disabled]


def disable_agency(session: Session, agency_id: str, now: datetime) -> Agency:
    """Disable an agency: its API keys stop working (the City also drops it from the trust list)."""
    utc(now)
    agency = get_agency(session, agency_id)
    agency.disabled = True
    session.add(agency)
    session.flush()
    return agency


def issue_api_key(session: Session, agency_id: str, roles: Sequence[str], now: datetime) -> IssuedApiKey:
    """A new API key with ``roles`` for ``agency_id``; ``documents:*``/``identity:*`` need that trust role."""
    agency = get_agency(session, agency_id)
    bad = set(roles) - set(API_ROLES)
    if bad or not roles:
        raise InvalidInput(f"API key roles must be among {', '.join(API_ROLES)}")
    for role in roles:
        if ":" in role and role.split(":", 1)[0] not in agency.roles:
            raise InvalidInput(f"agency {agency_id} lacks the trust role for {role}")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = ApiKey(id=key_id, agency_id=agency_id, key_hash=_hash(secret), roles=sorted(set(roles)), created_at=utc(now))
    session.add(row)
    session.flush()
    return IssuedApiKey(key_id, agency_id, tuple(row.roles), f"{API_KEY_PREFIX}_{key_id}_{secret}")


def list_api_keys(session: Session, agency_id: str | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at)  # type: ignore[arg-type]
    if agency_id is not None:
        stmt = stmt.where(ApiKey.agency_id == agency_id)
    return list(session.exec(stmt))


def revoke_api_key(session: Session, key_id: str, now: datetime) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyNotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utc(now)
        session.add(row)
        session.flush()
    return row


def bearer_token(authorization: str | None) -> str:
    """The API key in an ``Authorization`` header value, which must be exactly ``Bearer <token>`` (RFC 6750; the
    scheme in any case), else ``Unauthenticated``. The one parser of the header: ``Bearer Bearer <key>`` is refused."""
    if not authorization:
        raise Unauthenticated("an API key is required")
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
    return match.group(1)


def authenticate(session: Session, api_key: str | None) -> Principal:
    """The principal of an API key (the token itself: ``bearer_token`` takes it out of the header), or
    ``Unauthenticated``."""
    if not api_key:
        raise Unauthenticated("an API key is required")
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not _KEY_ID.match(parts[1]) or not parts[2].isascii():
        raise Unauthenticated("the API key is malformed")
    row = session.get(ApiKey, parts[1])
    # compare even when the id is unknown, so both failures cost the same
    expected = row.key_hash if row is not None else "0" * 64
    matches = hmac.compare_digest(expected, _hash(parts[2]))
    if row is None or not matches or row.revoked_at is not None:
        raise Unauthenticated("the API key is not valid")
    agency = session.get(Agency, row.agency_id)
    if agency is None or agency.disabled:
        raise Unauthenticated("the API key's agency is disabled")
    return Principal(agency.id, frozenset(row.roles), row.id)


def require_role(principal: Principal, role: str) -> Principal:
    """``principal`` if it holds ``role``, else ``Forbidden``."""
    if role not in API_ROLES:
        raise InvalidInput(f"unknown role {role!r}")
    if role not in principal.roles:
        raise Forbidden(f"this API key lacks the role {role}", role=role)
    return principal
