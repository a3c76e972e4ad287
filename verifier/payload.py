"""Recognise what a scanned or pasted text is: a verification link or a bare payload, and of which kind.

Only the shape is checked here (prefix, alphabet, size); decoding and signature checks belong to each kind's
pipeline. Every refusal is a typed 4xx error; nothing here decompresses anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from keys.limits import VERIFY_INPUT_CHARS
from ledger.documents.receipt import PAYLOAD_PREFIX as DOCUMENT_PREFIX

from .errors import InputTooLarge, PayloadUnrecognized

__all__ = ["CITIZEN_ID_PREFIX", "DOCUMENT_PREFIX", "MAX_INPUT_CHARS", "ParsedPayload", "PayloadKind", "parse_payload"]

MAX_INPUT_CHARS = VERIFY_INPUT_CHARS
CITIZEN_ID_PREFIX = "XI2:"
CITIZEN_ID_PREFIXES = ("XI2:", "XI1:")  # XI1 (base45) is still read; wallets write XI2 (base43, URL-safe)
_SD_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*~[A-Za-z0-9_~.-]*")
_VERSIONED = re.compile(r"X([DI])([0-9]+):")
_MAX_QUERY_FIELDS = 4


class PayloadKind(StrEnum):
    DOCUMENT = "document"
    CITIZEN_ID = "citizen_id"


@dataclass(frozen=True)
class ParsedPayload:
    """The payload's kind, its format (``xd1``, ``xi2``, ``xi1``, ``sd-jwt``) and the payload text itself."""

    kind: PayloadKind
    format: str
    payload: str


def _from_link(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError:
        raise PayloadUnrecognized("the link is not a valid URL") from None
    if not parts.netloc or not parts.path.rstrip("/").lower().endswith("/v"):
        raise PayloadUnrecognized("the link is not a verification link (…/v#<payload>)")
    if parts.fragment:
        return unquote(parts.fragment)
    pairs = parts.query.split("&") if parts.query else []
    if len(pairs) > _MAX_QUERY_FIELDS:
        raise PayloadUnrecognized("the verification link has too many query parameters")
    # Percent-decoding only, never form decoding (``parse_qs``): ``+`` is a base43 character, not a space.
    values = [unquote(pair[2:]) for pair in pairs if pair.startswith("p=")]
    if len(values) == 1 and values[0]:
        return values[0]
    raise PayloadUnrecognized("the verification link carries no payload")


def parse_payload(text: str | bytes) -> ParsedPayload:
    """Classify a QR text, verification link (``…/v#<payload>`` or ``…/v?p=<payload>``, the payload as it is: only
    ``%XX`` escapes are decoded) or bare payload.

    Raises :class:`InputTooLarge` past :data:`MAX_INPUT_CHARS`, :class:`PayloadUnrecognized` otherwise.
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_INPUT_CHARS:
            raise InputTooLarge(f"input is longer than {MAX_INPUT_CHARS} bytes")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadUnrecognized("the QR code does not hold UTF-8 text") from None
    if not isinstance(text, str):
        raise PayloadUnrecognized("input must be text")
    if len(text) > MAX_INPUT_CHARS:
        raise InputTooLarge(f"input is longer than {MAX_INPUT_CHARS} characters")
    text = text.strip()
    if text[:8].lower().startswith(("https://", "http://")):
        text = _from_link(text).strip()
    if text.startswith(DOCUMENT_PREFIX):
        return ParsedPayload(PayloadKind.DOCUMENT, "xd1", text)
    if text.startswith(CITIZEN_ID_PREFIXES):
        return ParsedPayload(PayloadKind.CITIZEN_ID, text[:3].lower(), text)
    if _SD_JWT.fullmatch(text):
        return ParsedPayload(PayloadKind.CITIZEN_ID, "sd-jwt", text)
    m = _VERSIONED.match(text)
    if m:
        kind = "document" if m[1] == "D" else "citizen ID"
        raise PayloadUnrecognized(f"unsupported {kind} payload version {m[2]}")
    raise PayloadUnrecognized("not a xacthuc verification link or payload")
