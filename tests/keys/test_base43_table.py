"""The lookup-table encoder (keys._base43_table) gives exactly what the plain RFC 9285 encoder below gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keys._base43_table import encode
from keys.qrtext import B43_ALPHABET, B45_ALPHABET, b43encode, b45encode


def plain_encode(data: bytes, alphabet: str) -> str:
    """RFC 9285's definition, a ``divmod`` per group: what the table must equal (and what to use without it)."""
    base, out = len(alphabet), []
    for i in range(0, len(data) - 1, 2):
        n, c = divmod(data[i] << 8 | data[i + 1], base)
        e, d = divmod(n, base)
        out += (alphabet[c], alphabet[d], alphabet[e])
    if len(data) % 2:
        d, c = divmod(data[-1], base)
        out += (alphabet[c], alphabet[d])
    return "".join(out)


@given(st.binary(max_size=600))
def test_table_equals_the_plain_encoder(data: bytes) -> None:
    assert encode(data, B43_ALPHABET) == plain_encode(data, B43_ALPHABET) == b43encode(data)
    assert encode(data, B45_ALPHABET) == plain_encode(data, B45_ALPHABET) == b45encode(data)


def test_every_group_matches_the_plain_encoder() -> None:
    data = b"".join(n.to_bytes(2, "big") for n in range(65536)) + b"\xff"
    assert encode(data, B43_ALPHABET) == plain_encode(data, B43_ALPHABET)
    assert encode(data, B45_ALPHABET) == plain_encode(data, B45_ALPHABET)


def test_bytes_like_input() -> None:
    assert encode(bytearray(b"AB"), B45_ALPHABET) == encode(b"AB", B45_ALPHABET) == "BB8"
    assert encode(memoryview(b"Hello!!"), B45_ALPHABET) == plain_encode(b"Hello!!", B45_ALPHABET) == "%69 VD92EX0"
