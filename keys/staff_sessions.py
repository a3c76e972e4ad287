"""Server-side sessions of staff accounts (table ``keys_staff_sessions``) and their CSRF tokens.

Signing in opens a session: a random 256-bit token goes to the browser (the cookie); only its SHA-256 is stored, so
a copy of the database opens no session. A session ends when its staff member signs out, after ``IDLE`` without a
request, ``ABSOLUTE`` after it opened whatever happens, when the account is disabled, and when its password changes.

Each session has its own CSRF token (synchroniser token pattern), sent in every state-changing form and compared in
constant time; the SameSite=Strict cookie is the second wall.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, delete

from keys.errors import Forbidden, Unauthenticated
from keys.staff import StaffAccount
from keys.validity import stored_utc, utc

__all__ = [
    "ABSOLUTE",
    "IDLE",
    "CsrfInvalid",
    "OpenedSession",
    "SessionInvalid",
    "StaffSession",
    "check_csrf",
    "close_session",
    "open_session",
    "purge_sessions",
    "resume_session",
]

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often: a page of requests is one write


class StaffSession(SQLModel, table=True):
    __tablename__ = "keys_staff_sessions"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie's token, hex
    staff_id: str = Field(foreign_key="keys_staff.id", index=True, max_length=16)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    last_seen_at: datetime
    address: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class SessionInvalid(Unauthenticated):
    """The session is unknown, signed out or expired: sign in again."""

    code = "SESSION_INVALID"


class CsrfInvalid(Forbidden):
    """The form's CSRF token is missing or does not match the session: reload the page and try again."""

    code = "CSRF_INVALID"


@dataclass(frozen=True)
class OpenedSession:
    """A new session: ``token`` goes into the cookie and is never stored."""

    token: str
    row: StaffSession

    def __repr__(self) -> str:
        return f"OpenedSession(staff_id={self.row.staff_id!r})"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(
    session: Session, account: StaffAccount, now: datetime, *, address: str = "", user_agent: str = ""
) -> OpenedSession:
    """A new session for ``account`` (already authenticated). The caller commits."""
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        id=_digest(token),
        staff_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=utc(now),
        last_seen_at=utc(now),
        address=address[:64],
        user_agent=user_agent[:300],
    )
    session.add(row)
    session.flush()
    return OpenedSession(token, row)


def resume_session(session: Session, token: str | None, now: datetime) -> tuple[StaffSession, StaffAccount]:
    """The session of a cookie's ``token`` and its account, else ``SessionInvalid`` (an expired session is deleted).
    Marks the session seen; the caller commits."""
    now = utc(now)
    if not token or len(token) > 128:
        raise SessionInvalid("sign in to continue")
    row = session.get(StaffSession, _digest(token))
    if row is None:
        raise SessionInvalid("sign in to continue")
    account = session.get(StaffAccount, row.staff_id)
    created, seen = stored_utc(row.created_at), stored_utc(row.last_seen_at)
    ended = (
        account is None
        or account.disabled
        or now - seen > IDLE
        or now - created > ABSOLUTE
        or created < stored_utc(account.password_changed_at)
    )
    if ended or account is None:
        session.delete(row)
        session.flush()
        raise SessionInvalid("the session has ended: sign in again")
    if now - seen >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
        session.flush()
    return row, account


def check_csrf(row: StaffSession, token: str | None) -> None:
    """``CsrfInvalid`` unless ``token`` is this session's CSRF token."""
    if not token or not hmac.compare_digest(row.csrf_token.encode(), token.encode("utf-8", "replace")):
        raise CsrfInvalid("the form's security token is missing or stale: reload the page and try again")


def close_session(session: Session, token: str | None) -> None:
    """Sign out: the session is deleted (an unknown token is no error). The caller commits."""
    if token and len(token) <= 128:
        row = session.get(StaffSession, _digest(token))
        if row is not None:
            session.delete(row)
            session.flush()


def purge_sessions(session: Session, now: datetime) -> int:
    """Delete sessions past their idle or absolute expiry; returns how many. The caller commits."""
    now = utc(now)
    result = session.exec(
        delete(StaffSession).where(
            (col(StaffSession.last_seen_at) < now - IDLE) | (col(StaffSession.created_at) < now - ABSOLUTE)
        )
    )
    session.flush()
    return int(result.rowcount or 0)
