"""The whole-payload codec (keys._qrtext_lanes) gives exactly what the plain RFC 9285 encoder and decoder below give,
for every 2-byte group, random payloads and every malformed text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys._qrtext_lanes import decode, encode
from keys.qrtext import B43_ALPHABET, B45_ALPHABET, b43decode, b43encode, b45decode, b45encode

ALPHABETS = (B43_ALPHABET, B45_ALPHABET)


def plain_encode(data: bytes, alphabet: str) -> str:
    """RFC 9285's definition, a ``divmod`` per group: what the lanes must equal (and what to use without them)."""
    base, out = len(alphabet), list[str]()
    for i in range(0, len(data) - 1, 2):
        n, c = divmod(data[i] << 8 | data[i + 1], base)
        e, d = divmod(n, base)
        out += (alphabet[c], alphabet[d], alphabet[e])
    if len(data) % 2:
        d, c = divmod(data[-1], base)
        out += (alphabet[c], alphabet[d])
    return "".join(out)


def plain_decode(text: str, alphabet: str) -> bytes:
    """The inverse, strict: unknown characters, a dangling character and overflow are errors."""
    base, index = len(alphabet), {c: i for i, c in enumerate(alphabet)}
    if len(text) % 3 == 1:
        raise ValueError("the length is not valid for this encoding")
    try:
        digits = [index[c] for c in text]
    except KeyError:
        raise ValueError("a character is outside the alphabet") from None
    out = bytearray()
    full = len(digits) - len(digits) % 3
    for i in range(0, full, 3):
        n = digits[i] + digits[i + 1] * base + digits[i + 2] * base * base
        if n > 0xFFFF:
            raise ValueError("a group is out of range")
        out += n.to_bytes(2, "big")
    if full < len(digits):
        n = digits[full] + digits[full + 1] * base
        if n > 0xFF:
            raise ValueError("a group is out of range")
        out.append(n)
    return bytes(out)


def _outcome(decoder: Callable[[str, str], bytes], text: str, alphabet: str) -> bytes | str:
    try:
        return decoder(text, alphabet)
    except ValueError as exc:
        return f"ValueError: {exc}"


@given(st.binary(max_size=600))
def test_encoding_equals_the_plain_encoder(data: bytes) -> None:
    assert encode(data, B43_ALPHABET) == plain_encode(data, B43_ALPHABET) == b43encode(data)
    assert encode(data, B45_ALPHABET) == plain_encode(data, B45_ALPHABET) == b45encode(data)


@pytest.mark.parametrize("alphabet", ALPHABETS, ids=["base43", "base45"])
def test_every_group_both_ways(alphabet: str) -> None:
    data = b"".join(n.to_bytes(2, "big") for n in range(65536)) + b"\xff"
    text = plain_encode(data, alphabet)
    assert encode(data, alphabet) == text
    assert decode(text, alphabet) == data


@pytest.mark.parametrize("alphabet", ALPHABETS, ids=["base43", "base45"])
def test_every_out_of_range_group_is_refused_as_the_plain_decoder_refuses_it(alphabet: str) -> None:
    base = len(alphabet)
    over = [n for n in range(base**3) if n > 0xFFFF]
    texts = [alphabet[n % base] + alphabet[n // base % base] + alphabet[n // base // base] for n in over]
    texts += [alphabet[n % base] + alphabet[n // base] for n in range(0x100, base * base)]  # a final pair over 0xFF
    for text in texts:
        for padded in (text, "000" + text, text + "000" if len(text) == 3 else "000000" + text):
            assert _outcome(decode, padded, alphabet) == _outcome(plain_decode, padded, alphabet)
            assert str(_outcome(decode, padded, alphabet)).startswith("ValueError")


@given(st.text(max_size=40), st.sampled_from(ALPHABETS))
def test_any_text_decodes_or_fails_as_the_plain_decoder_does(text: str, alphabet: str) -> None:
    assert _outcome(decode, text, alphabet) == _outcome(plain_decode, text, alphabet)


@given(st.lists(st.sampled_from(B45_ALPHABET), max_size=40).map("".join), st.sampled_from(ALPHABETS))
def test_texts_over_the_alphabet_decode_or_fail_as_the_plain_decoder_does(text: str, alphabet: str) -> None:
    assert _outcome(decode, text, alphabet) == _outcome(plain_decode, text, alphabet)


@pytest.mark.parametrize("text", ["A", "ABCD", "a00", "%00", " 00", "ZZZ", "::", "é00", "00\x00", "0\udc80"])
def test_malformed_texts(text: str) -> None:
    assert str(_outcome(decode, text, B43_ALPHABET)).startswith("ValueError")
    assert _outcome(decode, text, B43_ALPHABET) == _outcome(plain_decode, text, B43_ALPHABET)


def test_bytes_like_input() -> None:
    assert encode(bytearray(b"AB"), B45_ALPHABET) == encode(b"AB", B45_ALPHABET) == "BB8"
    assert encode(memoryview(b"Hello!!"), B45_ALPHABET) == plain_encode(b"Hello!!", B45_ALPHABET) == "%69 VD92EX0"
    assert b45decode("%69 VD92EX0") == b"Hello!!" and b43decode(b43encode(b"Hello!!")) == b"Hello!!"
