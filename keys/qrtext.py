"""Text encodings for QR payloads, shared by documents (``XD1:``) and digital IDs (``XI2:``, ``XI1:``).

Both alphabets are QR alphanumeric characters, so a payload is stored at 5.5 bits a character instead of 8.
Layout as RFC 9285: each 2 bytes (big-endian n) become 3 characters, least significant digit first; a final odd
byte becomes 2. Base45 is RFC 9285 itself; base43 drops space and ``%``, which a URL fragment cannot hold raw, so a
``{public_url}/v#<payload>`` link needs no percent-encoding.

Encoding goes through a lookup table (``keys._base43_table``: the bench shows it matters); decoding is plain.
"""

from __future__ import annotations

from keys._base43_table import encode as _encode

__all__ = ["B43_ALPHABET", "B45_ALPHABET", "b43decode", "b43encode", "b45decode", "b45encode"]

B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
B43_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:"
_INDEX = {a: {c: i for i, c in enumerate(a)} for a in (B43_ALPHABET, B45_ALPHABET)}


def _decode(text: str, alphabet: str) -> bytes:
    """Strict: one text per byte string. Unknown characters, a dangling character and overflow are errors."""
    base, index = len(alphabet), _INDEX[alphabet]
    if len(text) % 3 == 1:
        raise ValueError("the length is not valid for this encoding")
    try:
        digits = [index[c] for c in text]
    except KeyError:
        raise ValueError("a character is outside the alphabet") from None
    out = bytearray()
    full = len(digits) - len(digits) % 3
    square = base * base
    for i in range(0, full, 3):
        n = digits[i] + digits[i + 1] * base + digits[i + 2] * square
        if n > 0xFFFF:
            raise ValueError("a group is out of range")
        out += n.to_bytes(2, "big")
    if full < len(digits):
        n = digits[full] + digits[full + 1] * base
        if n > 0xFF:
            raise ValueError("a group is out of range")
        out.append(n)
    return bytes(out)


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
