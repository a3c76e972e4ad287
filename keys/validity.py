"""When a key may be trusted for a signature: one rule, shared by key rings and the trust list.

A key is valid for a signature made at ``signed_at`` when ``not_before <= signed_at < not_after`` (the window is
half-open, so at a rotation instant exactly one key is valid). A compromised key's signatures are untrusted, since
whoever stole it can also backdate ``signed_at``, unless an independent timestamp (``anchored_at``, the on-chain
anchor time) proves the signature existed before ``compromised_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from keys.errors import InvalidInput, KeyCompromised, KeyNotValidAt

ACTIVE, RETIRED, COMPROMISED = "active", "retired", "compromised"
STATUSES = (ACTIVE, RETIRED, COMPROMISED)


class HasValidity(Protocol):
    @property
    def kid(self) -> str: ...
    @property
    def not_before(self) -> datetime: ...
    @property
    def not_after(self) -> datetime | None: ...
    @property
    def status(self) -> str: ...
    @property
    def compromised_at(self) -> datetime | None: ...


def utc(dt: datetime) -> datetime:
    """``dt`` in UTC; naive datetimes are refused, since their meaning depends on the machine."""
    if dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInput("times must be timezone-aware")
    return dt.astimezone(UTC)


def stored_utc(dt: datetime) -> datetime:
    """A time read back from the database, in UTC: SQLite returns it naive, in UTC as it was written."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else utc(dt)


def to_seconds(dt: datetime) -> datetime:
    """``dt`` in UTC truncated to whole seconds, as windows are published (NumericDate)."""
    return utc(dt).replace(microsecond=0)


def from_epoch(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("a time is an integer number of seconds since the epoch")
    return datetime.fromtimestamp(value, UTC)


def epoch(dt: datetime) -> int:
    return int(utc(dt).timestamp())


def in_window(key: HasValidity, at: datetime) -> bool:
    at = utc(at)
    return utc(key.not_before) <= at and (key.not_after is None or at < utc(key.not_after))


def check_valid_at(key: HasValidity, signed_at: datetime, anchored_at: datetime | None = None) -> None:
    """Raise ``KeyNotValidAt`` or ``KeyCompromised`` unless ``key`` may be trusted for a signature at ``signed_at``."""
    if not in_window(key, signed_at):
        raise KeyNotValidAt(f"key {key.kid} was not valid at {utc(signed_at).isoformat()}", kid=key.kid)
    if key.status == COMPROMISED:
        if key.compromised_at is None or anchored_at is None or utc(anchored_at) >= utc(key.compromised_at):
            raise KeyCompromised(f"key {key.kid} is compromised", kid=key.kid)
    elif key.status not in (ACTIVE, RETIRED):
        raise KeyNotValidAt(f"key {key.kid} has an unknown status", kid=key.kid)
