"""base64url and JSON as xacthuc signs and reads them: one strict rule for every package.

base64url is unpadded and canonical (RFC 7515 section 2, RFC 4648 section 3.5): ``=``, ``+``, ``/``, whitespace,
non-ASCII and unused low bits that are not zero are all refused, so one byte string has exactly one text. JSON that
is signed is compact UTF-8; JSON that is read must be UTF-8 (``json.loads`` would guess UTF-16 or UTF-32 from bytes).
"""

from __future__ import annotations

import binascii
import hashlib
import json
from typing import Any

from keys import _json_scan

__all__ = [
    "CryptoInputError",
    "b64url_decode",
    "b64url_encode",
    "json_bytes",
    "json_loads",
    "sha256_b64url",
]


class CryptoInputError(ValueError):
    """Bytes that are not a key, a JWK, a base64url text or a ciphertext we can use (callers map it to typed errors)."""


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# '+' and '/' become '!', which strict a2b_base64 refuses like any other character outside the alphabet.
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/!!")
# The padding a2b_base64 needs, by length modulo 4; a length of 1 modulo 4 is never base64.
_PADDING = (b"", None, b"==", b"=")
# For a text of length 2 or 3 modulo 4, the last character carries 4 or 2 unused bits: they must be zero, i.e. the
# character's alphabet index must be a multiple of 16 or 4.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CANONICAL_LAST: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset(),
    frozenset(_ALPHABET[::16]),
    frozenset(_ALPHABET[::4]),
)


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded, canonical base64url; raises :class:`CryptoInputError` (a ``ValueError``) on anything else."""
    if not isinstance(text, str):
        raise CryptoInputError("not base64url")
    rem = len(text) & 3
    padding = _PADDING[rem]
    if padding is None or "=" in text:
        raise CryptoInputError("not unpadded base64url")
    if rem and text[-1] not in _CANONICAL_LAST[rem]:
        raise CryptoInputError("not canonical base64url")  # the unused low bits must be zero
    try:
        return binascii.a2b_base64(text.encode("ascii").translate(_FROM_URLSAFE) + padding, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CryptoInputError("not base64url") from None


def sha256_b64url(data: bytes) -> str:
    """base64url of SHA-256: SD-JWT digests, ``sd_hash``, RFC 7638 thumbprints."""
    return b64url_encode(hashlib.sha256(data).digest())


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode  # built once: hot path


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, the form we sign (no NaN or infinity: they are not JSON)."""
    return _ENCODE(value).encode("utf-8")


def json_loads(data: bytes) -> Any:
    """Parse JSON that must be UTF-8; ``ValueError`` otherwise (including trailing data)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("JSON is not UTF-8") from exc
    return _json_scan.loads(text)  # json.loads(text), with the scanner called directly (the bench shows it matters)
