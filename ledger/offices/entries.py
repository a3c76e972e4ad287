"""A register entry: one change to an agency's offices or delegations, signed with the agency's key as a compact JWS.

The payload (``typ`` ``xacthuc-office-entry+jwt`` in the header)::

    {"v": 1, "iss": "ubnd-q3", "seq": 3, "prev": "<hex leaf of entry 2>" | null, "iat": 1767225600,
     "kind": "office.add" | "office.end" | "delegation.add" | "delegation.revoke", "data": {...}}

``seq`` numbers an agency's entries from 1 and ``prev`` links each to the one before, so a register presented with
an entry left out in the middle shows the gap. The entry's Merkle leaf (what the anchoring outbox queues) is
SHA-256 over a domain tag and the token's bytes: never the leaf of a document. The ``data`` of each kind and what is
refused there is in :func:`office_data`, :func:`end_data`, :func:`delegation_data`, :func:`revoke_data`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from keys.errors import InvalidInput, SignatureError
from keys.jws import decode_unverified, sign_jws
from keys.limits import OFFICE_ENTRY_CHARS, OFFICE_FIELD_CHARS
from keys.protocols import Signer
from keys.validity import epoch, from_epoch
from ledger.documents.errors import DocumentFieldInvalid
from ledger.documents.metadata import DOCUMENT_TYPES, normalize_text, parse_number
from ledger.offices.errors import OfficeFieldInvalid
from ledger.offices.rules import DELEGATION_FORMS, foreign_letters

__all__ = [
    "ENTRY_TYP",
    "KINDS",
    "Entry",
    "delegation_data",
    "end_data",
    "entry_leaf",
    "make_body",
    "office_data",
    "read_entry",
    "revoke_data",
    "sign_entry",
]

ENTRY_TYP = "xacthuc-office-entry+jwt"
VERSION = 1
KINDS = ("office.add", "office.end", "delegation.add", "delegation.revoke")
_LEAF_DOMAIN = b"xacthuc:office-entry:v1"
_MAX_TEXT = OFFICE_FIELD_CHARS
_MAX_TOKEN = OFFICE_ENTRY_CHARS


def entry_leaf(token: str) -> bytes:
    """The entry's Merkle leaf data: SHA-256 over the domain tag and the token's ASCII bytes."""
    return hashlib.sha256(_LEAF_DOMAIN + token.encode("ascii")).digest()


def make_body(
    *, agency_id: str, seq: int, prev: bytes | None, now: datetime, kind: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    if kind not in KINDS:
        raise OfficeFieldInvalid("kind", f"must be one of {', '.join(KINDS)}")
    return {
        "v": VERSION,
        "iss": agency_id,
        "seq": seq,
        "prev": None if prev is None else prev.hex(),
        "iat": epoch(now),
        "kind": kind,
        "data": dict(data),
    }


def sign_entry(signer: Signer, body: Mapping[str, Any]) -> str:
    """The entry as a compact JWS signed by the agency's key (its ``kid`` in the header)."""
    return sign_jws(signer, body, {"typ": ENTRY_TYP})


@dataclass(frozen=True)
class Entry:
    """An entry read from its token, NOT yet verified: ``ledger``/``verifier`` check the signature with the issuer's
    key from the trust list before trusting any of it."""

    token: str
    kid: str
    alg: str
    body: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.body["seq"])

    @property
    def issuer(self) -> str:
        return str(self.body["iss"])

    @property
    def prev(self) -> bytes | None:
        raw = self.body.get("prev")
        return None if raw is None else bytes.fromhex(raw)

    @property
    def issued_at(self) -> datetime:
        return from_epoch(int(self.body["iat"]))

    @property
    def leaf(self) -> bytes:
        return entry_leaf(self.token)


def read_entry(token: str) -> Entry:
    """Parse an entry token's header and body (shape only; the signature is the caller's to verify)."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or not token.isascii():
        raise OfficeFieldInvalid("token", "is not a register entry")
    try:
        header, payload = decode_unverified(token)
        body = json.loads(payload)
    except (SignatureError, ValueError):
        raise OfficeFieldInvalid("token", "is not a compact JWS") from None
    if header.get("typ") != ENTRY_TYP or not isinstance(header.get("kid"), str):
        raise OfficeFieldInvalid("token", "is not a register entry (typ, kid)")
    ok = (
        isinstance(body, dict)
        and body.get("v") == VERSION
        and isinstance(body.get("iss"), str)
        and isinstance(body.get("seq"), int)
        and body["seq"] >= 1
        and isinstance(body.get("iat"), int)
        and body.get("kind") in KINDS
        and isinstance(body.get("data"), dict)
        and (body.get("prev") is None or _is_hex32(body.get("prev")))
    )
    if not ok:
        raise OfficeFieldInvalid("token", "the register entry's body is malformed")
    try:
        _check_data(body["kind"], body["data"])
    except (OfficeFieldInvalid, KeyError, TypeError, ValueError):
        raise OfficeFieldInvalid("token", "the register entry's data is malformed") from None
    return Entry(token, header["kid"], str(header.get("alg")), body)


def _is_hex32(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _check_data(kind: str, data: Mapping[str, Any]) -> None:
    """A signed entry's data read back: the same rules as writing, so the fold never meets a malformed value."""
    {"office.add": office_data, "office.end": end_data, "delegation.add": delegation_data}.get(kind, revoke_data)(data)


# ----------------------------------------------------------------------------------------------- the fields of a kind
def _text(fields: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    raw = fields.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise OfficeFieldInvalid(name, "is required")
        return None
    if not isinstance(raw, str):
        raise OfficeFieldInvalid(name, "must be a string")
    try:
        text = normalize_text(raw, name)
    except DocumentFieldInvalid:
        raise OfficeFieldInvalid(name, "contains control or unassigned characters") from None
    if len(text) > _MAX_TEXT.get(name, 200):
        raise OfficeFieldInvalid(name, f"is longer than {_MAX_TEXT.get(name, 200)} characters")
    foreign = foreign_letters(text)
    if foreign:  # a look-alike letter would make a second person who reads like the first
        raise OfficeFieldInvalid(name, f"has letters that are not Latin: {', '.join(foreign)}")
    return text


def _date(fields: Mapping[str, Any], name: str, *, required: bool = True) -> date | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        if required:
            raise OfficeFieldInvalid(name, "is required (YYYY-MM-DD)")
        return None
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = str(raw).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise OfficeFieldInvalid(name, "must be a date YYYY-MM-DD")


def _flag(fields: Mapping[str, Any], name: str) -> bool:
    raw = fields.get(name, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", ""):
        return raw.strip().lower() in ("true", "1")
    raise OfficeFieldInvalid(name, "must be true or false")


def _ref(fields: Mapping[str, Any], name: str, prefix: str, *, required: bool) -> str | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        if required:
            raise OfficeFieldInvalid(name, "is required")
        return None
    if not isinstance(raw, str) or not raw.startswith(prefix) or not raw[1:].isdigit() or len(raw) > 12:
        raise OfficeFieldInvalid(name, f"must be an id like {prefix}3")
    return raw


def _span(start: date | None, until: date | None, until_name: str = "until") -> None:
    if start is not None and until is not None and until < start:
        raise OfficeFieldInvalid(until_name, "is before from")


def office_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``office.add``: title, holder (NFC, Latin letters), from, until (optional, the last day), head, collective,
    deputy_of (the head's office id, for a Phó title), acting (Q.)."""
    start, until = _date(fields, "from"), _date(fields, "until", required=False)
    _span(start, until)
    head, collective, acting = _flag(fields, "head"), _flag(fields, "collective"), _flag(fields, "acting")
    deputy_of = _ref(fields, "deputy_of", "o", required=False)
    if deputy_of is not None and head:
        raise OfficeFieldInvalid("deputy_of", "a deputy's office is not the head's")
    if collective and not head:
        raise OfficeFieldInvalid("collective", "only the head's office signs TM. for a collective body")
    assert start is not None
    return {
        "title": _text(fields, "title"),
        "holder": _text(fields, "holder"),
        "from": start.isoformat(),
        "until": None if until is None else until.isoformat(),
        "head": head,
        "collective": collective,
        "deputy_of": deputy_of,
        "acting": acting,
    }


def end_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``office.end``: the office id and its last day."""
    until = _date(fields, "until")
    assert until is not None
    return {"office": _ref(fields, "office", "o", required=True), "until": until.isoformat()}


def delegation_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``delegation.add``: form (TL. or TUQ.), delegate and delegate_title, for_office (the head's office id),
    document_types (abbreviations; none: all), from, until, authorising_number. A TUQ. needs both an end date and
    the authorising document (Decree 30: in writing, for a period); a TL. rests on the agency's own rules."""
    raw_form = fields.get("form")
    form = raw_form.strip().upper() if isinstance(raw_form, str) else None
    if form is not None and not form.endswith("."):
        form += "."
    if form not in DELEGATION_FORMS:
        raise OfficeFieldInvalid("form", "must be TL. or TUQ.")
    start, until = _date(fields, "from"), _date(fields, "until", required=form == "TUQ.")
    _span(start, until)
    types = fields.get("document_types") or []
    if isinstance(types, str):
        types = [t for t in (p.strip() for p in types.split(",")) if t]
    if not isinstance(types, list) or len(types) > len(DOCUMENT_TYPES):
        raise OfficeFieldInvalid("document_types", "must be a list of document type abbreviations")
    by_upper = {k.upper(): k for k in DOCUMENT_TYPES}
    canonical = []
    for t in types:
        found = by_upper.get(t.strip().upper()) if isinstance(t, str) else None
        if found is None:
            raise OfficeFieldInvalid("document_types", f"unknown document type {t!r}")
        canonical.append(found)
    number = fields.get("authorising_number")
    authorising: str | None = None
    if number not in (None, ""):
        try:
            authorising = str(parse_number(str(number)))
        except InvalidInput as exc:
            raise OfficeFieldInvalid("authorising_number", exc.message) from None
    if form == "TUQ." and authorising is None:
        raise OfficeFieldInvalid("authorising_number", "a TUQ. delegation names the document that authorises it")
    assert start is not None
    return {
        "form": form,
        "delegate": _text(fields, "delegate"),
        "delegate_title": _text(fields, "delegate_title"),
        "for_office": _ref(fields, "for_office", "o", required=False),
        "document_types": sorted(set(canonical)),
        "from": start.isoformat(),
        "until": None if until is None else until.isoformat(),
        "authorising_number": authorising,
    }


def revoke_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``delegation.revoke``: the delegation id and the first day it no longer covers."""
    start = _date(fields, "from")
    assert start is not None
    return {"delegation": _ref(fields, "delegation", "d", required=True), "from": start.isoformat()}
