"""Text encodings for QR payloads, shared by documents (``XD1:``) and digital IDs (``XI2:``, ``XI1:``).

Both alphabets are QR alphanumeric characters, so a payload is stored at 5.5 bits a character instead of 8.
Layout as RFC 9285: each 2 bytes (big-endian n) become 3 characters, least significant digit first; a final odd
byte becomes 2. Base45 is RFC 9285 itself; base43 drops space and ``%``, which a URL fragment cannot hold raw, so a
``{public_url}/v#<payload>`` link needs no percent-encoding.

Both directions work on the whole payload at once (``keys._qrtext_lanes``: the bench shows it matters); the plain
group-by-group definition is in tests/keys/test_qrtext_lanes.py, which holds the two equal.
"""

from __future__ import annotations

from keys._qrtext_lanes import decode as _decode
from keys._qrtext_lanes import encode as _encode

__all__ = ["B43_ALPHABET", "B45_ALPHABET", "b43decode", "b43encode", "b45decode", "b45encode"]

B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
B43_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:"


def b43encode(data: bytes) -> str:
    return _encode(data, B43_ALPHABET)


def b43decode(text: str) -> bytes:
    """Inverse of :func:`b43encode`; ``ValueError`` for anything it did not write."""
    return _decode(text, B43_ALPHABET)


def b45encode(data: bytes) -> str:
    return _encode(data, B45_ALPHABET)


def b45decode(text: str) -> bytes:
    """Inverse of :func:`b45encode` (RFC 9285); ``ValueError`` for anything it did not write."""
    return _decode(text, B45_ALPHABET)
