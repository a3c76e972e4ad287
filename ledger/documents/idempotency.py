"""Idempotency keys: a request repeated with the same ``Idempotency-Key`` gets the first answer again, never a second
document (``POST /v1/documents`` and ``POST /v1/documents:batch``).

A key belongs to one agency. Its row (``ledger_idempotency_key``, migration 0011) holds the hash of the request it
was first used with and that request's answer (status and JSON body), and is written in the same transaction as the
documents: both are committed, or neither. The row is claimed (inserted) before the documents are issued, so of two
concurrent requests with one key the primary key lets one through and holds the other until the first commits; the
other then answers what the first stored. The same key with another request is refused (``IDEMPOTENCY_KEY_REUSED``).
Only answers that issued (2xx) are stored: a refused request stores nothing, and may be sent again with its key.

Keys are kept :data:`KEY_TTL` (24 hours) from their first use; each claim of a new key deletes the keys older than
that (one indexed ``DELETE``), and an expired key is treated as never used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, delete

from keys.errors import InvalidInput
from ledger.chain.outbox import as_utc
from ledger.errors import LedgerError

__all__ = [
    "HEADER",
    "KEY_TTL",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyRow",
    "StoredAnswer",
    "check_key",
    "once",
    "request_sha256",
]

HEADER = "Idempotency-Key"
KEY_TTL = timedelta(hours=24)
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as HTTP header values travel safely


class IdempotencyKeyInvalid(LedgerError, InvalidInput):
    """The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID is a good key)."""

    code = "IDEMPOTENCY_KEY_INVALID"
    http_status = 422

    def __init__(self) -> None:
        self.field = HEADER
        super().__init__(f"{HEADER}: must be 1 to 255 visible ASCII characters (a UUID is a good key)")


class IdempotencyKeyReused(LedgerError):
    """This Idempotency-Key was already used with another request: use a new key for a new request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 409

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"{HEADER} {key!r} was already used with another request in the last {KEY_TTL.total_seconds() / 3600:g}"
            " hours: use a new key for a new request, or send the first request again to get its answer"
        )


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "ledger_idempotency_key"

    agency_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    request_sha256: str = Field(max_length=64)  # the request it was first used with (request_sha256)
    status_code: int = 0  # 0 while its request runs (never seen by others: the same transaction sets the answer)
    response_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(index=True)  # for the 24 h expiry


@dataclass(frozen=True)
class StoredAnswer:
    """An answer as first given: HTTP status and JSON body; ``replayed`` when it comes from an earlier request."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def check_key(key: str) -> str:
    """``key`` if it is a usable idempotency key, else :class:`IdempotencyKeyInvalid`."""
    if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
        raise IdempotencyKeyInvalid()
    return key


def request_sha256(route: str, *parts: bytes | str | Any) -> str:
    """A request's identity: SHA-256 over the route and its parts, each length-prefixed (bytes as they are, text as
    UTF-8, anything else as canonical JSON: sorted keys, no spaces), so no two different requests share it."""
    h = hashlib.sha256()
    for part in (route, *parts):
        if isinstance(part, str):
            data = part.encode("utf-8")
        elif isinstance(part, bytes | bytearray):
            data = bytes(part)
        else:
            data = json.dumps(part, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def _stored(session: Session, agency_id: str, key: str, request: str, now: datetime) -> StoredAnswer | None:
    row = session.get(IdempotencyRow, (agency_id, key), populate_existing=True)
    if row is None or as_utc(row.created_at) < as_utc(now) - KEY_TTL:
        return None
    if row.request_sha256 != request:
        raise IdempotencyKeyReused(key)
    body: dict[str, Any] = json.loads(row.response_json)
    return StoredAnswer(row.status_code, body, replayed=True)


def _claim(session: Session, agency_id: str, key: str, request: str, now: datetime) -> None:
    now = as_utc(now)
    session.exec(delete(IdempotencyRow).where(col(IdempotencyRow.created_at) < now - KEY_TTL))
    session.add(IdempotencyRow(agency_id=agency_id, key=key, request_sha256=request, response_json="", created_at=now))
    session.flush()


def once(
    session: Session,
    *,
    agency_id: str,
    key: str,
    request: str,
    now: datetime,
    run: Callable[[], tuple[int, dict[str, Any]]],
) -> StoredAnswer:
    """The answer to the request ``request`` (its :func:`request_sha256`) sent with ``key``: the stored one when the
    key was used before with the same request (``replayed``), else ``run()``'s, stored with the key in the caller's
    transaction. The same key with another request raises :class:`IdempotencyKeyReused`.

    The key's claim must be the transaction's first write: when a concurrent request holds the key, this waits for it
    to commit, rolls the session back (nothing of this request was written) and answers what that request stored.
    """
    check_key(key)
    stored = _stored(session, agency_id, key, request, now)
    if stored is not None:
        return stored
    try:
        _claim(session, agency_id, key, request, now)
    except IntegrityError:
        session.rollback()
        stored = _stored(session, agency_id, key, request, now)
        if stored is None:  # pragma: no cover - the row the primary key refused is committed, and not expired
            raise
        return stored
    status_code, body = run()
    row = session.get(IdempotencyRow, (agency_id, key))
    assert row is not None  # claimed above, in this transaction
    row.status_code, row.response_json = status_code, json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    session.add(row)
    session.flush()
    return StoredAnswer(status_code, body)
