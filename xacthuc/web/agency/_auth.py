"""The portal's side of staff sessions: the cookie, the signed-in staff member of a request, CSRF checks.

The session cookie is HttpOnly, SameSite=Strict, scoped to ``/agency``, and Secure when the service's public URL is
https. The sign-in form, before any session exists, carries a token that must match a short-lived cookie (double
submit), so another site cannot sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from keys.agencies import Agency, Principal
from keys.staff import StaffAccount, staff_principal
from keys.staff_sessions import ABSOLUTE, CsrfInvalid, SessionInvalid, StaffSession, check_csrf, resume_session

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SIGNIN_COOKIE",
    "Staff",
    "address_of",
    "check_signin_token",
    "clear_session_cookie",
    "current_staff",
    "new_signin_token",
    "set_session_cookie",
]

COOKIE = "xacthuc_session"
SIGNIN_COOKIE = "xacthuc_signin"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PATH = "/agency"


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of a request: the account, its agency, its session and what it may do."""

    account: StaffAccount
    agency: Agency
    session: StaffSession
    principal: Principal

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    @property
    def actor(self) -> str:
        return f"staff:{self.account.username}"

    def check_csrf(self, token: str | None) -> None:
        check_csrf(self.session, token)


def address_of(request: Request) -> str:
    """The client's address as this server sees it (behind a proxy: the proxy's, unless uvicorn is told to trust
    its ``X-Forwarded-For`` with ``--forwarded-allow-ips``)."""
    return request.client.host if request.client is not None else ""


def current_staff(request: Request, db: Session, now: datetime) -> Staff | None:
    """The request's staff member, or None (no cookie, or a session that ended). Marks the session seen; commits."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        row, account = resume_session(db, token, now)
    except SessionInvalid:
        db.commit()  # an ended session is deleted
        return None
    agency = db.get(Agency, account.agency_id)
    if agency is None or agency.disabled:
        return None
    staff = Staff(account, agency, row, staff_principal(db, account))
    db.commit()
    return staff


def _secure(public_url: str) -> bool:
    return public_url.startswith("https://")


def set_session_cookie(response: Response, token: str, public_url: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ABSOLUTE.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(public_url),
    )


def clear_session_cookie(response: Response, public_url: str) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=_secure(public_url))


def new_signin_token(request: Request, response: Response, public_url: str) -> str:
    """The sign-in form's token: the one in the request's cookie, else a new one set on ``response``."""
    token = request.cookies.get(SIGNIN_COOKIE)
    if not token or len(token) > 64:
        token = secrets.token_urlsafe(24)
    response.set_cookie(
        SIGNIN_COOKIE, token, max_age=3600, path=PATH, httponly=True, samesite="strict", secure=_secure(public_url)
    )
    return token


def check_signin_token(request: Request, form_token: str | None) -> None:
    cookie = request.cookies.get(SIGNIN_COOKIE)
    if not cookie or not form_token or not hmac.compare_digest(cookie.encode(), form_token.encode("utf-8", "replace")):
        raise CsrfInvalid("the sign-in form's security token is missing or stale: reload the page and try again")
