"""Presentation requests: create, read and expire them. Ids, handles and nonces come from the ``rng`` passed in.

A request has two independent random names. The **id** (256 bits) reads the result (``GET
/v1/presentation-requests/{id}``) and is known only to the relying party's page; it is stored only as its SHA-256.
The **handle** (128 bits) goes into the QR code: the request URI, the response URI and ``state``. A photo of the QR
code lets someone answer the request (as anyone the citizen shows it to could), never read who answered or what.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete
from sqlmodel import Session, col, select

from keys.encoding import b64url_encode
from keys.errors import InvalidInput
from keys.limits import PURPOSE_CHARS
from ledger.chain.outbox import as_utc

from ..errors import PresentationClaimsInvalid, PresentationRequestNotFound
from .models import PresentationRequest

__all__ = [
    "CLAIM_NAMES",
    "MAX_PURPOSE",
    "TTL",
    "NewPresentationRequest",
    "RequestLinks",
    "Rng",
    "create_request",
    "get_by_handle",
    "get_by_id",
    "parse_claims",
    "parse_purpose",
    "request_links",
    "state_of",
    "view",
]

Rng = Callable[[int], bytes]

#: The selectively disclosable claims of the citizen ID (``identity.service.citizen_claims``), in display order.
CLAIM_NAMES = (
    "full_name",
    "family_name",
    "given_name",
    "birth_date",
    "age_over_18",
    "sex",
    "nationality",
    "personal_id",
    "place_of_origin",
    "place_of_residence",
)
TTL = timedelta(minutes=5)
MAX_PURPOSE = PURPOSE_CHARS
KEEP = timedelta(days=1)  # rows are deleted this long after they expired (on the next creation)
ID_BYTES, HANDLE_BYTES, NONCE_BYTES = 32, 16, 16

PENDING, ANSWERED, REFUSED, EXPIRED = "pending", "answered", "refused", "expired"


def parse_claims(value: Any) -> list[str]:
    """The claims a request names: a non-empty list of distinct claim names of the citizen ID."""
    if not isinstance(value, list) or not value:
        raise PresentationClaimsInvalid("claims: give a non-empty list of claim names")
    unknown = [i for i, c in enumerate(value, 1) if not isinstance(c, str) or c not in CLAIM_NAMES]
    if unknown:
        # named by its place, not quoted: whatever was sent there (a name, a CCCD number) stays out of the answer
        names = ", ".join(CLAIM_NAMES)
        raise PresentationClaimsInvalid(f"claims: item {unknown[0]} is not a claim of the citizen ID ({names})")
    if len(set(value)) != len(value):
        raise PresentationClaimsInvalid("claims: each claim once")
    return list(value)


def parse_purpose(value: Any) -> str | None:
    """The optional purpose shown to the citizen: at most 200 characters, no control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _purpose_error("purpose: must be a string")
    text = " ".join(value.split())
    if len(text) > MAX_PURPOSE or any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise _purpose_error(f"purpose: at most {MAX_PURPOSE} printable characters")
    return text or None


def _purpose_error(message: str) -> InvalidInput:
    exc = InvalidInput(message)
    exc.field = "purpose"  # type: ignore[attr-defined]  # XacthucError.to_dict names it
    return exc


def id_hash(request_id: str) -> str:
    return hashlib.sha256(request_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewPresentationRequest:
    id: str
    handle: str
    nonce: str
    client_id: str
    claims: list[str]
    purpose: str | None
    expires_at: datetime


@dataclass(frozen=True)
class RequestLinks:
    request_uri: str
    response_uri: str
    wallet_link: str
    wallet_url: str


def request_links(public_url: str, handle: str, client_id: str) -> RequestLinks:
    """Where the wallet fetches the request and posts its answer, and the links the QR code can carry."""
    request_uri = f"{public_url}/oid4vp/requests/{handle}"
    query = f"client_id={quote(client_id, safe='')}&request_uri={quote(request_uri, safe='')}"
    return RequestLinks(
        request_uri=request_uri,
        response_uri=f"{public_url}/oid4vp/responses/{handle}",
        wallet_link="openid4vp://?" + query,
        wallet_url=f"{public_url}/wallet#{query}",
    )


def create_request(
    session: Session,
    claims: Sequence[str],
    *,
    client_id: str,
    now: datetime,
    rng: Rng,
    purpose: str | None = None,
    ttl: timedelta = TTL,
) -> NewPresentationRequest:
    """Store a new pending request (the caller commits); rows long expired are deleted on the way."""
    wanted = parse_claims(list(claims))
    request_id = b64url_encode(rng(ID_BYTES))
    handle = b64url_encode(rng(HANDLE_BYTES))
    nonce = b64url_encode(rng(NONCE_BYTES))
    row = PresentationRequest(
        id_hash=id_hash(request_id),
        handle=handle,
        nonce=nonce,
        client_id=client_id,
        claims=wanted,
        purpose=parse_purpose(purpose),
        state=PENDING,
        created_at=now,
        expires_at=now + ttl,
    )
    session.exec(delete(PresentationRequest).where(col(PresentationRequest.expires_at) < now - KEEP))
    session.add(row)
    session.flush()
    return NewPresentationRequest(request_id, handle, nonce, client_id, wanted, row.purpose, row.expires_at)


def get_by_id(session: Session, request_id: str) -> PresentationRequest:
    """The request whose secret id is ``request_id``, else :class:`PresentationRequestNotFound`."""
    row = session.get(PresentationRequest, id_hash(request_id)) if len(request_id) <= 64 else None
    if row is None:
        raise PresentationRequestNotFound()
    return row


def get_by_handle(session: Session, handle: str) -> PresentationRequest | None:
    if len(handle) > 64:
        return None
    return session.exec(select(PresentationRequest).where(PresentationRequest.handle == handle)).first()


def state_of(row: PresentationRequest, now: datetime) -> str:
    """``pending`` until answered, refused, or its five minutes are over (then ``expired``)."""
    if row.state == PENDING and now >= as_utc(row.expires_at):
        return EXPIRED
    return row.state


def view(row: PresentationRequest, request_id: str, now: datetime) -> dict[str, Any]:
    """The body of ``GET /v1/presentation-requests/{id}``."""
    return {
        "id": request_id,
        "state": state_of(row, now),
        "claims": list(row.claims),
        "purpose": row.purpose,
        "expires_at": as_utc(row.expires_at).isoformat(),
        "report": row.report,
    }
