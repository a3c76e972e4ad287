"""QR text encoding by table lookup: the one speed trick behind :mod:`keys.qrtext`'s encoders, kept apart.

Worth it by ``make bench``: with the plain encoder (a ``divmod`` per 2-byte group), document receipts are issued about
10 % slower (docs/benchmarks.md). The table holds all 65,536 three-character groups of an alphabet, built once per
alphabet (~10 ms), and is indexed by a group's 2 bytes read in this machine's byte order (``memoryview.cast("H")``):
on a little-endian machine entry ``n`` holds the group of the big-endian value ``n`` byte-swapped.
tests/keys/test_base43_table.py holds the plain RFC 9285 encoder and proves this gives exactly what it gives.
"""

from __future__ import annotations

import functools
import sys

__all__ = ["encode"]


@functools.cache
def _triples(alphabet: str) -> tuple[str, ...]:
    base = len(alphabet)
    pairs = [alphabet[r % base] + alphabet[r // base] for r in range(base * base)]
    groups = tuple(p + c for c in alphabet for p in pairs)[:65536]
    if sys.byteorder == "big":
        return groups
    return tuple(groups[(n & 0xFF) << 8 | n >> 8] for n in range(65536))


def encode(data: bytes, alphabet: str) -> str:
    """RFC 9285's layout over ``alphabet`` (base43 or base45): 3 characters per 2 bytes, 2 for a final odd byte."""
    table = _triples(alphabet)
    even = len(data) & ~1
    # A list comprehension beats map(table.__getitem__, ...) here: ~5 µs instead of ~10 for a 187-byte payload.
    out = "".join([table[n] for n in memoryview(data)[:even].cast("H")])
    if even < len(data):
        high, low = divmod(data[-1], len(alphabet))
        out += alphabet[low] + alphabet[high]
    return out
