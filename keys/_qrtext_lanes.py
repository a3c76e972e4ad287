"""QR text encoding and decoding a whole payload at a time: the one speed trick behind :mod:`keys.qrtext`, kept apart.

RFC 9285's layout works on 2-byte groups: ``n = 256·b0 + b1`` becomes the digits ``n % B``, ``n // B % B`` and
``n // B²`` (B = 43 or 45). Done group by group in Python, that is a ``divmod`` pair per group; done by a table of
all 65,536 three-character groups, it is a lookup per group into 3.6 MB of string objects, which the payloads'
random bytes (signatures, hashes) turn into a cache miss per group. Here every group is a 32-bit lane of one Python
integer, so each step below is one big-integer or bytes operation over the whole payload, in C:
- the groups are laid into lanes with slice assignment (``bytearray[i::4] = ...``);
- ``n // B`` is ``(n · M) >> K`` for a multiplier ``M < 2¹⁶`` found and checked against every 16-bit ``n`` once per
  alphabet, so ``n · M`` stays inside its lane and the shift's spill from the next lane is masked off;
- the remainders are ``n - B · (n // B)``, which never borrows across lanes;
- the digits become characters with ``bytes.translate``.
Decoding runs the same lanes backwards and refuses what encoding never writes: characters outside the alphabet, a
dangling character, a group over 0xFFFF or a final pair over 0xFF.

Worth it by measurement (docs/benchmarks.md): for a document's 190-byte payload of random bytes, 6-11 µs to encode
against 15-24 µs by the table and 35-43 µs by ``divmod``; 8 µs to decode against 31-53 µs.
tests/keys/test_qrtext_lanes.py holds the plain RFC 9285 encoder and decoder and proves these give exactly what they
give, every group included.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

__all__ = ["decode", "encode"]

_LANE = 4  # bytes: n · M < 2³² for n, M < 2¹⁶
_INVALID = 0xFF  # a decoding digit no alphabet has


class _Alphabet(NamedTuple):
    base: int
    multiplier: int  # M, with (n · M) >> shift == n // base for every 0 <= n < 2¹⁶
    shift: int
    to_text: bytes  # bytes.translate table: digit -> character
    to_digit: bytes  # bytes.translate table: character -> digit, _INVALID outside the alphabet


@functools.cache
def _alphabet(alphabet: str) -> _Alphabet:
    base = len(alphabet)
    for shift in range(16, 33):
        multiplier = -(-(1 << shift) // base)  # ceil(2^shift / base)
        if multiplier < 1 << 16 and all((n * multiplier) >> shift == n // base for n in range(1 << 16)):
            break
    else:  # pragma: no cover - 43 and 45 have one (shifts 21 and 19); some bases (7, 41, 47, ...) have none
        raise ValueError(f"no lane multiplier for base {base}")
    chars = alphabet.encode("ascii")
    to_digit = bytearray([_INVALID]) * 256
    for digit, c in enumerate(chars):
        to_digit[c] = digit
    return _Alphabet(base, multiplier, shift, chars.ljust(256, b"\0"), bytes(to_digit))


@functools.lru_cache(maxsize=64)
def _lanes_of(pattern: int, count: int) -> int:
    """``pattern`` repeated in each of ``count`` lanes."""
    return int.from_bytes(pattern.to_bytes(_LANE, "little") * count, "little")


def _divide(x: int, a: _Alphabet, count: int) -> tuple[int, int]:
    """Lane by lane, ``x // base`` and ``x % base``."""
    q = ((x * a.multiplier) >> a.shift) & _lanes_of((1 << (8 * _LANE - a.shift)) - 1, count)  # drop the spill
    return q, x - q * a.base


def _low_bytes(x: int, count: int) -> bytes:
    """Each lane's lowest byte."""
    return x.to_bytes(_LANE * count, "little")[::_LANE]


def _lanes(*columns: bytes) -> int:
    """An integer whose lanes hold ``columns``: the lane's byte 0 from the first, byte 1 from the second, and so on
    (one byte a lane each); zeros elsewhere."""
    lanes = bytearray(_LANE * len(columns[0]))
    for offset, column in enumerate(columns):
        lanes[offset::_LANE] = column
    return int.from_bytes(lanes, "little")


def encode(data: bytes | bytearray | memoryview, alphabet: str) -> str:
    """RFC 9285's layout over ``alphabet`` (base43 or base45): 3 characters per 2 bytes, 2 for a final odd byte."""
    a = _alphabet(alphabet)
    data = bytes(data)  # a strided memoryview slice is slower than copying the bytes
    count, odd = divmod(len(data), 2)
    out = bytearray(3 * count)
    if count:
        n = _lanes(data[1 : 2 * count : 2], data[0 : 2 * count : 2])  # big-endian groups
        q, first = _divide(n, a, count)
        third, second = _divide(q, a, count)
        out[0::3] = _low_bytes(first, count)
        out[1::3] = _low_bytes(second, count)
        out[2::3] = _low_bytes(third, count)
    if odd:
        high, low = divmod(data[-1], a.base)
        out += bytes((low, high))
    return out.translate(a.to_text).decode("ascii")


def decode(text: str, alphabet: str) -> bytes:
    """Inverse of :func:`encode`; ``ValueError`` for anything it does not write."""
    a = _alphabet(alphabet)
    count, rest = divmod(len(text), 3)
    if rest == 1:
        raise ValueError("the length is not valid for this encoding")
    try:
        digits = text.encode("ascii").translate(a.to_digit)
    except UnicodeEncodeError:
        raise ValueError("a character is outside the alphabet") from None
    if _INVALID in digits:
        raise ValueError("a character is outside the alphabet")
    out = bytearray(2 * count)
    if count:
        full = 3 * count
        n = (
            _lanes(digits[0:full:3]) + _lanes(digits[1:full:3]) * a.base + _lanes(digits[2:full:3]) * a.base * a.base
        )  # each lane below 2¹⁷: no carry between lanes
        if n & _lanes_of(0xFFFF0000, count):
            raise ValueError("a group is out of range")
        groups = n.to_bytes(_LANE * count, "little")
        out[0::2] = groups[1::_LANE]
        out[1::2] = groups[0::_LANE]
    if rest:
        last = digits[-2] + digits[-1] * a.base
        if last > 0xFF:
            raise ValueError("a group is out of range")
        out.append(last)
    return bytes(out)
