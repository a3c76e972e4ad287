"""Slowing and then refusing repeated failed sign-ins (table ``keys_signin_failures``), per account and per address.

Each failure is counted under two keys: the username tried (``user:<name>``, known or not, so the answer does not
tell which names exist) and the client's address (``addr:<ip>``). Under a key, the first ``free`` failures within
``window`` cost nothing; each further one makes the next attempt wait (1, 2, 4, ... seconds, at most ``max_delay``:
slowed); at ``lock_after`` failures the key is refused for ``lockout`` (a while). An address gets more room than an
account, since an office shares one address. A successful sign-in clears its account's count, not its address's
(else one valid account would reset an attacker's budget). Counts live in the database, so every replica sees them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from keys.errors import XacthucError
from keys.validity import stored_utc, utc

__all__ = [
    "ACCOUNT_POLICY",
    "ADDRESS_POLICY",
    "SignInFailures",
    "SignInThrottled",
    "ThrottlePolicy",
    "check_signin_allowed",
    "clear_failures",
    "record_failure",
    "throttle_keys",
]


class SignInFailures(SQLModel, table=True):
    __tablename__ = "keys_signin_failures"

    key: str = Field(primary_key=True, max_length=200)  # user:<name> or addr:<address>
    failures: int = 0
    first_at: datetime
    last_at: datetime


class SignInThrottled(XacthucError):
    """Too many failed sign-ins: wait before trying again (``Retry-After`` says how long)."""

    code = "SIGNIN_THROTTLED"
    http_status = 429

    def __init__(self, message: str | None = None, *, retry_after: int = 1, locked: bool = False) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
        self.locked = locked

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class ThrottlePolicy:
    free: int
    lock_after: int
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    max_delay: timedelta = timedelta(seconds=30)

    def wait(self, failures: int, last_at: datetime, now: datetime) -> tuple[float, bool]:
        """Seconds still to wait after ``failures`` failures, the last at ``last_at``; and whether it is a lockout."""
        if failures >= self.lock_after:
            return (last_at + self.lockout - now).total_seconds(), True
        if failures < self.free:
            return 0.0, False
        delay = min(timedelta(seconds=2 ** (failures - self.free)), self.max_delay)
        return (last_at + delay - now).total_seconds(), False


ACCOUNT_POLICY = ThrottlePolicy(free=3, lock_after=10)
ADDRESS_POLICY = ThrottlePolicy(free=10, lock_after=50)


def throttle_keys(username: str, address: str) -> list[tuple[str, ThrottlePolicy]]:
    """The keys a sign-in attempt counts under, each with its policy."""
    keys = [(f"user:{username.strip().lower()[:64]}", ACCOUNT_POLICY)]
    if address:
        keys.append((f"addr:{address[:64]}", ADDRESS_POLICY))
    return keys


def _current(row: SignInFailures | None, policy: ThrottlePolicy, now: datetime) -> SignInFailures | None:
    """The row if its count still applies (its last failure within the window, or a lockout still running)."""
    if row is None:
        return None
    last = stored_utc(row.last_at)
    if row.failures >= policy.lock_after:
        return row if now < last + policy.lockout else None
    return row if now - last <= policy.window else None


def check_signin_allowed(session: Session, keys: Sequence[tuple[str, ThrottlePolicy]], now: datetime) -> None:
    """``SignInThrottled`` (with the seconds to wait) when any key must still wait; call before checking the
    password, so a throttled guess costs no Argon2 run and tells nothing."""
    now = utc(now)
    worst, locked = 0.0, False
    for key, policy in keys:
        row = _current(session.get(SignInFailures, key), policy, now)
        if row is None:
            continue
        wait, lock = policy.wait(row.failures, stored_utc(row.last_at), now)
        if wait > worst:
            worst, locked = wait, lock
    if worst > 0:
        what = "refused for a while" if locked else "slowed down"
        raise SignInThrottled(
            f"too many failed sign-ins: sign-in is {what}; try again in {math.ceil(worst)} s",
            retry_after=math.ceil(worst),
            locked=locked,
        )


def record_failure(session: Session, keys: Sequence[tuple[str, ThrottlePolicy]], now: datetime) -> None:
    """Count a failed sign-in under every key. The caller commits (with the audit entry)."""
    now = utc(now)
    for key, policy in keys:
        row = session.get(SignInFailures, key)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(SignInFailures(key=key, failures=1, first_at=now, last_at=now))
                continue
            except IntegrityError:  # a concurrent failure created it first: count on it
                row = session.get(SignInFailures, key)
                if row is None:
                    continue
        if _current(row, policy, now) is None:
            row.failures, row.first_at = 0, now
        row.failures += 1
        row.last_at = now
        session.add(row)
    session.flush()


def clear_failures(session: Session, username: str) -> None:
    """A successful sign-in: the account's count starts again (the address's stays). The caller commits."""
    row = session.get(SignInFailures, f"user:{username.strip().lower()[:64]}")
    if row is not None:
        session.delete(row)
        session.flush()
