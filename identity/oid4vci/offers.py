"""Credential offers (OpenID4VCI 1.0, pre-authorized code flow): created by an identity agency for one of its
citizens, fetched by the wallet at ``credential_offer_uri``.

An offer lives ``OFFER_TTL`` (10 minutes), is redeemed once, and is protected by a 6-digit transaction code shown
once to the clerk. The offer id in the URL is 256 random bits; the pre-authorized code is derived from it
(HMAC-SHA256 keyed with the id), so the database keeps only their hashes and the offer document can still be served.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from identity.errors import Oid4vciError
from identity.oid4vci._secret import digest, new_secret
from identity.oid4vci.models import OfferRow
from identity.sdjwt import Rng
from identity.service import get_citizen
from keys.encoding import b64url_encode
from keys.validity import stored_utc, utc

__all__ = [
    "CREDENTIAL_CONFIGURATION_ID",
    "MAX_TX_CODE_ATTEMPTS",
    "OFFER_TTL",
    "PRE_AUTHORIZED_GRANT",
    "TX_CODE_DESCRIPTION",
    "TX_CODE_LENGTH",
    "NewOffer",
    "OfferLinks",
    "check_offer",
    "create_offer",
    "credential_offer",
    "offer_links",
    "pre_authorized_code",
    "tx_code_hash",
]

CREDENTIAL_CONFIGURATION_ID = "citizen_id"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OFFER_TTL = timedelta(minutes=10)
TX_CODE_LENGTH = 6
#: Beyond OpenID4VCI, which sets no limit: this many wrong transaction codes and the offer is dead.
MAX_TX_CODE_ATTEMPTS = 5
TX_CODE_DESCRIPTION = "Mã giao dịch 6 số do cán bộ cung cấp / the 6-digit code the clerk gave you"

GONE = "the offer has expired or was already used"
DEAD = "too many wrong codes: the offer is dead, ask the clerk for a new one"
UNKNOWN = "no such credential offer"


@dataclass(frozen=True)
class NewOffer:
    """A new offer: ``id`` goes into the offer link, ``tx_code`` is shown once to the clerk; neither is stored."""

    id: str
    tx_code: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"NewOffer(expires_at={self.expires_at.isoformat()!r})"


@dataclass(frozen=True)
class OfferLinks:
    """The three forms of an offer: the URL the wallet fetches, the ``openid-credential-offer://`` link for any
    wallet app, and the https link that opens our own web wallet."""

    credential_offer_uri: str
    offer_uri: str
    wallet_url: str


def pre_authorized_code(offer_id: str) -> str:
    """The pre-authorized code of an offer, derived from its id (256 bits of the id's randomness)."""
    mac = hmac.new(offer_id.encode("ascii", "replace"), b"xacthuc oid4vci pre-authorized_code", hashlib.sha256)
    return b64url_encode(mac.digest())


def tx_code_hash(code: str, tx_code: str) -> str:
    """The stored form of a transaction code: hashed with the pre-authorized code, which the database lacks."""
    return digest(f"{code}:{tx_code}")


def _tx_code(rng: Rng) -> str:
    """A uniformly random ``TX_CODE_LENGTH``-digit code (rejection sampling: no modulo bias)."""
    limit = 10**TX_CODE_LENGTH
    bound = (1 << 32) - (1 << 32) % limit
    while True:
        n = int.from_bytes(rng(4), "big")
        if n < bound:
            return str(n % limit).zfill(TX_CODE_LENGTH)


def create_offer(
    session: Session,
    citizen_id: str,
    *,
    agency_id: str,
    now: datetime,
    rng: Rng = os.urandom,
    ttl: timedelta = OFFER_TTL,
) -> NewOffer:
    """A credential offer for a citizen ``agency_id`` registered (another agency's citizen is ``CitizenNotFound``).

    Does not commit.
    """
    get_citizen(session, citizen_id, agency_id=agency_id)
    now = utc(now)
    offer_id = new_secret(rng)
    code = pre_authorized_code(offer_id)
    tx_code = _tx_code(rng)
    row = OfferRow(
        id=digest(offer_id),
        code_hash=digest(code),
        tx_code_hash=tx_code_hash(code, tx_code),
        citizen_id=citizen_id,
        agency_id=agency_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    return NewOffer(id=offer_id, tx_code=tx_code, expires_at=row.expires_at)


def offer_links(public_url: str, offer_id: str) -> OfferLinks:
    """The links of offer ``offer_id`` served under ``public_url`` (PU)."""
    uri = f"{public_url.rstrip('/')}/oid4vci/offers/{quote(offer_id, safe='')}"
    pct = quote(uri, safe="")
    return OfferLinks(
        credential_offer_uri=uri,
        offer_uri=f"openid-credential-offer://?credential_offer_uri={pct}",
        wallet_url=f"{public_url.rstrip('/')}/wallet#credential_offer_uri={pct}",
    )


def check_offer(row: OfferRow | None, now: datetime, *, status: int = 400) -> OfferRow:
    """``row`` if it can still be redeemed, else the OAuth error that says why (``invalid_grant`` at the token
    endpoint, ``invalid_request`` with 404 where the offer document is fetched)."""
    error = "invalid_grant" if status == 400 else "invalid_request"
    if row is None:
        raise Oid4vciError(error, UNKNOWN if status == 404 else GONE, status=status)
    if row.attempts >= MAX_TX_CODE_ATTEMPTS:
        raise Oid4vciError(error, DEAD, status=status)
    if row.used_at is not None or stored_utc(row.expires_at) <= utc(now):
        raise Oid4vciError(error, GONE, status=status)
    return row


def credential_offer(session: Session, offer_id: str, *, issuer: str, now: datetime) -> dict[str, Any]:
    """The credential offer document served at ``credential_offer_uri``. An unknown, expired, used or dead offer is
    ``Oid4vciError`` (``invalid_request``, 404)."""
    check_offer(session.get(OfferRow, digest(offer_id)), now, status=404)
    return {
        "credential_issuer": issuer,
        "credential_configuration_ids": [CREDENTIAL_CONFIGURATION_ID],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": pre_authorized_code(offer_id),
                "tx_code": {"input_mode": "numeric", "length": TX_CODE_LENGTH, "description": TX_CODE_DESCRIPTION},
            }
        },
    }
