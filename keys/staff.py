"""Staff accounts (table ``keys_staff``): the people of an agency who sign in to the portal (``/agency``).

Machines use API keys (``keys.agencies``); people use a username and a password, so that every decision is traced to
a person. Passwords are hashed with Argon2id (argon2-cffi) unlike API keys: a password is chosen by a person and can
be guessed, so each guess must cost. The parameters are OWASP's for Argon2id (19 MiB, 2 passes, 1 lane: about 0.1 s
here): RFC 9106's 64 MiB profile took 0.6 s a sign-in on a 2-core server, where a burst of sign-ins (throttled,
``keys.signin_throttle``, but from many addresses) would starve the API. Hashes carry their parameters, so raising
them later upgrades each hash at its next sign-in. An unknown username costs the same as a wrong password (a dummy
hash is checked), so sign-in does not tell which usernames exist.

Roles: ``clerk`` issues, revokes and supersedes its agency's documents; ``manager`` may also read the agency's
audit log in the portal. Either acts only for its own agency, and only within the agency's trust roles.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import cache
from typing import ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from keys.agencies import Agency, Principal, expand_roles, get_agency
from keys.errors import InvalidInput, NotFound, Unauthenticated, XacthucError
from keys.limits import PASSWORD_CHARS
from keys.validity import utc

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "STAFF_ROLES",
    "SignInFailed",
    "StaffAccount",
    "StaffExists",
    "StaffInputInvalid",
    "StaffNotFound",
    "check_password",
    "create_staff",
    "demo_staff",
    "disable_staff",
    "generate_password",
    "get_staff",
    "list_staff",
    "reset_password",
    "staff_principal",
]

STAFF_ROLES = ("clerk", "manager")
MIN_PASSWORD = 10
MAX_PASSWORD = PASSWORD_CHARS
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # Argon2id (the library's default type)


class StaffAccount(SQLModel, table=True):
    __tablename__ = "keys_staff"

    id: str = Field(primary_key=True, max_length=16)
    agency_id: str = Field(foreign_key="keys_agencies.id", index=True, max_length=64)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=200)
    disabled: bool = False
    created_at: datetime
    password_changed_at: datetime  # sessions opened before it end (keys.staff_sessions)


class StaffInputInvalid(InvalidInput):
    """A staff account field is invalid (``field`` names it: username, role, password, full_name)."""

    code = "STAFF_INPUT_INVALID"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StaffExists(XacthucError):
    """A staff account with this username already exists."""

    code = "STAFF_EXISTS"
    http_status = 409


class StaffNotFound(NotFound):
    """No such staff account."""

    code = "STAFF_NOT_FOUND"


class SignInFailed(Unauthenticated):
    """The username or password is wrong, or the account is disabled."""

    code = "SIGNIN_FAILED"
    http_status: ClassVar[int] = 401


@cache
def _dummy_hash() -> str:
    """A hash to check for unknown usernames, made on first use: importing keys must not cost an Argon2 run."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password for a demo or reset account (about 96 bits)."""
    return secrets.token_urlsafe(12)


def _check_password_rules(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise StaffInputInvalid(f"password: at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise StaffInputInvalid(f"password: at most {MAX_PASSWORD} characters", field="password")
    if password.strip() != password or len(set(password)) < 4:
        raise StaffInputInvalid(
            "password: no leading or trailing spaces, and at least 4 different characters", field="password"
        )


def _check_username(username: str) -> str:
    name = username.strip().lower() if isinstance(username, str) else ""
    if not _USERNAME.match(name):
        raise StaffInputInvalid(
            "username: 3-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="username",
        )
    return name


def create_staff(
    session: Session,
    *,
    agency_id: str,
    username: str,
    role: str,
    password: str,
    now: datetime,
    full_name: str = "",
) -> StaffAccount:
    """A new staff account of ``agency_id`` (which must exist and not be disabled). The caller commits."""
    name = _check_username(username)
    if role not in STAFF_ROLES:
        raise StaffInputInvalid(f"role: one of {', '.join(STAFF_ROLES)}", field="role")
    if len(full_name) > 200:
        raise StaffInputInvalid("full_name: at most 200 characters", field="full_name")
    _check_password_rules(password)
    agency = get_agency(session, agency_id)
    if agency.disabled:
        raise StaffInputInvalid(f"agency {agency_id} is disabled", field="agency")
    if session.exec(select(StaffAccount.id).where(StaffAccount.username == name)).first() is not None:
        raise StaffExists(f"a staff account named {name} already exists")
    row = StaffAccount(
        id=f"st-{secrets.token_hex(6)}",
        agency_id=agency_id,
        username=name,
        full_name=full_name.strip(),
        role=role,
        password_hash=_HASHER.hash(password),
        created_at=utc(now),
        password_changed_at=utc(now),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # a concurrent command took the name first
        session.rollback()
        raise StaffExists(f"a staff account named {name} already exists") from None
    return row


def get_staff(session: Session, username: str) -> StaffAccount:
    row = session.exec(select(StaffAccount).where(StaffAccount.username == username.strip().lower())).first()
    if row is None:
        raise StaffNotFound(f"no staff account {username}")
    return row


def list_staff(session: Session, agency_id: str | None = None) -> list[StaffAccount]:
    stmt = select(StaffAccount).order_by(col(StaffAccount.agency_id), col(StaffAccount.username))
    if agency_id is not None:
        stmt = stmt.where(StaffAccount.agency_id == agency_id)
    return list(session.exec(stmt))


def disable_staff(session: Session, username: str, now: datetime) -> StaffAccount:
    """Disable an account: it can no longer sign in, and its open sessions end at their next request."""
    utc(now)
    row = get_staff(session, username)
    row.disabled = True
    session.add(row)
    session.flush()
    return row


def reset_password(session: Session, username: str, password: str, now: datetime) -> StaffAccount:
    """Set a new password; every session opened before now ends (``password_changed_at``). The caller commits."""
    _check_password_rules(password)
    row = get_staff(session, username)
    row.password_hash = _HASHER.hash(password)
    row.password_changed_at = utc(now)
    session.add(row)
    session.flush()
    return row


def check_password(session: Session, username: str, password: str) -> StaffAccount:
    """The account whose username and password these are, else ``SignInFailed`` (the same for an unknown name, a
    wrong password and a disabled account, at the same cost). A hash made with older parameters is upgraded."""
    name = username.strip().lower() if isinstance(username, str) else ""
    row = session.exec(select(StaffAccount).where(StaffAccount.username == name)).first() if name else None
    candidate = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else ""
    try:
        _HASHER.verify(row.password_hash if row is not None else _dummy_hash(), candidate)
        matches = row is not None and bool(candidate)
    except (VerificationError, InvalidHashError):
        matches = False
    if row is None or not matches or row.disabled:
        raise SignInFailed("the username or password is wrong")
    agency = session.get(Agency, row.agency_id)
    if agency is None or agency.disabled:
        raise SignInFailed("the username or password is wrong")
    if _HASHER.check_needs_rehash(row.password_hash):
        row.password_hash = _HASHER.hash(candidate)
        session.add(row)
        session.flush()
    return row


def staff_principal(session: Session, account: StaffAccount) -> Principal:
    """What a staff account may do through the domain functions: its agency's roles (``documents`` gives
    ``documents:issue`` and ``documents:revoke``), never ``admin``. ``Principal.api_key_id`` names the person."""
    agency = get_agency(session, account.agency_id)
    roles: tuple[str, ...] = () if agency.disabled or account.disabled else expand_roles(agency.roles)[1]
    return Principal(account.agency_id, frozenset(roles), f"staff:{account.username}")


def demo_staff(session: Session, agency: Agency, now: datetime) -> list[dict[str, str]]:
    """Development mode only: a clerk (``canbo.<agency id>``) for a demo agency, and a manager
    (``lanhdao.<agency id>``) when it issues documents; each ``{"username", "password", "role"}``, the password
    shown here once (``dev-credentials.json``)."""
    roles = ["clerk", "manager"] if "documents" in agency.roles else ["clerk"]
    out = []
    for role in roles:
        username = f"{'canbo' if role == 'clerk' else 'lanhdao'}.{agency.id}"
        password = generate_password()
        create_staff(session, agency_id=agency.id, username=username, role=role, password=password, now=now)
        out.append({"username": username, "password": password, "role": role})
    return out
