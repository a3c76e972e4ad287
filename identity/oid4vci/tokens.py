"""The token side of the pre-authorized code flow: redeeming an offer for an access token (with the transaction
code, at most ``MAX_TX_CODE_ATTEMPTS`` wrong tries), c_nonces, and spending an access token on one credential.

Every state change is one conditional ``UPDATE`` whose row count says whether it won, so two concurrent requests
never both redeem an offer, spend a token, consume a nonce, or get more tries at the code than the limit. None
commits; a caller that gets ``Oid4vciError`` commits all the same (a wrong code counts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select, update

from identity.errors import Oid4vciError
from identity.oid4vci._secret import digest, new_secret, same
from identity.oid4vci.models import AccessTokenRow, NonceRow, OfferRow
from identity.oid4vci.offers import DEAD, GONE, MAX_TX_CODE_ATTEMPTS, check_offer, tx_code_hash
from identity.sdjwt import Rng
from keys.validity import stored_utc, utc

__all__ = [
    "ACCESS_TOKEN_TTL",
    "NONCE_TTL",
    "AccessGrant",
    "IssuedToken",
    "access_grant",
    "consume_nonce",
    "new_nonce",
    "redeem_pre_authorized_code",
    "spend_access_token",
]

ACCESS_TOKEN_TTL = timedelta(minutes=5)
NONCE_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int

    def __repr__(self) -> str:
        return f"IssuedToken(expires_in={self.expires_in})"


@dataclass(frozen=True)
class AccessGrant:
    """What a valid access token allows: one credential for ``citizen_id``, issued by ``agency_id``."""

    token_id: str
    citizen_id: str
    agency_id: str


def redeem_pre_authorized_code(
    session: Session,
    code: str,
    tx_code: str | None,
    *,
    now: datetime,
    rng: Rng = os.urandom,
    ttl: timedelta = ACCESS_TOKEN_TTL,
) -> IssuedToken:
    """Exchange a pre-authorized code and its transaction code for an access token.

    ``Oid4vciError``: ``invalid_request`` without a transaction code; ``invalid_grant`` for a wrong code (saying how
    many tries are left), for an expired, used or unknown offer, and for an offer killed by wrong codes.
    """
    now = utc(now)
    row = check_offer(session.exec(select(OfferRow).where(OfferRow.code_hash == digest(code))).first(), now)
    if not tx_code:
        raise Oid4vciError("invalid_request", "tx_code is required: the 6-digit code the clerk gave you")
    # Take a try first, then compare: however many requests race, at most MAX_TX_CODE_ATTEMPTS codes are compared.
    taken = session.exec(
        update(OfferRow)
        .where(
            col(OfferRow.id) == row.id,
            col(OfferRow.used_at).is_(None),
            col(OfferRow.attempts) < MAX_TX_CODE_ATTEMPTS,
            col(OfferRow.expires_at) > now,
        )
        .values(attempts=col(OfferRow.attempts) + 1)
    )
    if taken.rowcount != 1:
        session.refresh(row)
        check_offer(row, now)
        raise Oid4vciError("invalid_grant", GONE)  # pragma: no cover - check_offer names the reason first
    if not same(tx_code_hash(code, tx_code), row.tx_code_hash):
        session.refresh(row)
        left = MAX_TX_CODE_ATTEMPTS - row.attempts
        if left <= 0:
            raise Oid4vciError("invalid_grant", DEAD)
        raise Oid4vciError("invalid_grant", f"wrong transaction code, {left} {'try' if left == 1 else 'tries'} left")
    # The right code: give the try back and mark the offer used, unless a concurrent request already did.
    redeemed = session.exec(
        update(OfferRow)
        .where(col(OfferRow.id) == row.id, col(OfferRow.used_at).is_(None))
        .values(used_at=now, attempts=col(OfferRow.attempts) - 1)
    )
    if redeemed.rowcount != 1:
        raise Oid4vciError("invalid_grant", GONE)
    token = new_secret(rng)
    session.add(
        AccessTokenRow(
            id=digest(token),
            offer_id=row.id,
            citizen_id=row.citizen_id,
            agency_id=row.agency_id,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return IssuedToken(access_token=token, expires_in=int(ttl.total_seconds()))


def _invalid_token(description: str) -> Oid4vciError:
    return Oid4vciError("invalid_token", description, status=401)


def access_grant(session: Session, token: str | None, *, now: datetime) -> AccessGrant:
    """The grant of a bearer access token; ``invalid_token`` (401) when it is missing, unknown, expired or spent."""
    if not token:
        raise _invalid_token("an access token is required")
    row = session.get(AccessTokenRow, digest(token))
    if row is None or stored_utc(row.expires_at) <= utc(now):
        raise _invalid_token("the access token is unknown or has expired")
    if row.used_at is not None:
        raise _invalid_token("the access token was already used for a credential")
    return AccessGrant(token_id=row.id, citizen_id=row.citizen_id, agency_id=row.agency_id)


def spend_access_token(session: Session, grant: AccessGrant, credential_id: str, *, now: datetime) -> None:
    """Mark the token used for ``credential_id``; ``invalid_token`` if a concurrent request spent it first."""
    spent = session.exec(
        update(AccessTokenRow)
        .where(col(AccessTokenRow.id) == grant.token_id, col(AccessTokenRow.used_at).is_(None))
        .values(used_at=utc(now), credential_id=credential_id)
    )
    if spent.rowcount != 1:
        raise _invalid_token("the access token was already used for a credential")


def new_nonce(session: Session, *, now: datetime, rng: Rng = os.urandom, ttl: timedelta = NONCE_TTL) -> str:
    """A fresh c_nonce (256 bits), good for one proof within ``ttl``. Expired nonces are swept on the way."""
    now = utc(now)
    session.exec(delete(NonceRow).where(col(NonceRow.expires_at) <= now))
    nonce = new_secret(rng)
    session.add(NonceRow(id=digest(nonce), expires_at=now + ttl))
    session.flush()
    return nonce


def consume_nonce(session: Session, nonce: str, *, now: datetime) -> bool:
    """Use up a c_nonce: ``True`` once for a nonce this issuer gave out and that has not expired."""
    used = session.exec(
        update(NonceRow)
        .where(col(NonceRow.id) == digest(nonce), col(NonceRow.used_at).is_(None), col(NonceRow.expires_at) > utc(now))
        .values(used_at=utc(now))
    )
    return used.rowcount == 1
