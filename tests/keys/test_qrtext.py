"""QR text encodings: RFC 9285 vectors for base45, round trips and strictness for both alphabets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.qrtext import B43_ALPHABET, b43decode, b43encode, b45decode, b45encode


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0"), (b"", "")],
)
def test_rfc9285_vectors(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@given(st.binary(max_size=600))
def test_round_trips(data: bytes) -> None:
    assert b43decode(b43encode(data)) == data
    assert b45decode(b45encode(data)) == data
    assert set(b43encode(data)) <= set(B43_ALPHABET)


@pytest.mark.parametrize("text", ["A", "ABCD", "a00", "%00", " 00", "ZZZ", "::"])
def test_base43_refuses_what_it_never_writes(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        b43decode(text)


def test_base43_needs_no_escaping_in_a_url_fragment() -> None:
    assert " " not in B43_ALPHABET and "%" not in B43_ALPHABET and "#" not in B43_ALPHABET
