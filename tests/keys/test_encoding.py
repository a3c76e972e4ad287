"""The core's base64url and JSON: one strict rule that every package (keys, ledger, identity, verifier) reads with."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.encoding import CryptoInputError, b64url_decode, b64url_encode, json_bytes, json_loads, sha256_b64url


@given(st.binary(max_size=200))
def test_b64url_round_trip_matches_the_stdlib(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_decode(text) == data


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40))
def test_b64url_decode_accepts_exactly_the_canonical_texts(text: str) -> None:
    """Whatever decodes re-encodes to the same text: one byte string has one encoding."""
    try:
        raw = b64url_decode(text)
    except CryptoInputError:
        canonical = (
            len(text) % 4 != 1 and b64url_encode(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == text
        )
        assert not canonical
    else:
        assert b64url_encode(raw) == text


@pytest.mark.parametrize(
    "bad",
    ["YWJj=", "YQ==", "YQ=", "YW+j", "YW/j", "YW j", "YW\nJj", "Y", "YWJjZ", "YWJ!", "YWé", "YR", "YWF", "YW\x00j"],
    ids=[
        "padding",
        "padding-2",
        "padding-1",
        "plus",
        "slash",
        "space",
        "newline",
        "one-char",
        "length-1-mod-4",
        "bang",
        "non-ascii",
        "trailing-bits-1-byte",
        "trailing-bits-2-bytes",
        "nul",
    ],
)
def test_b64url_decode_is_strict(bad: str) -> None:
    with pytest.raises(CryptoInputError):
        b64url_decode(bad)


def test_b64url_decode_refuses_what_is_not_text() -> None:
    with pytest.raises(CryptoInputError):
        b64url_decode(b"YWJj")  # type: ignore[arg-type]


def test_crypto_input_error_is_a_value_error() -> None:
    """Callers that catch ``ValueError`` (the SD-JWT parser, the transport) keep catching every refusal."""
    assert issubclass(CryptoInputError, ValueError)


def test_sha256_b64url_is_a_thumbprint_sized_digest() -> None:
    assert sha256_b64url(b"abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_json_loads_accepts_json_whitespace_only() -> None:
    assert json_loads(b' {"a":1}\r\n') == {"a": 1}
    for bad in (b'{"a":1}x', '{"a":1}\u00a0'.encode(), b"", b"{"):
        with pytest.raises(ValueError):
            json_loads(bad)


def test_json_loads_refuses_utf16_that_json_loads_would_guess() -> None:
    data = json.dumps({"a": 1}).encode("utf-16")
    assert json.loads(data) == {"a": 1}
    with pytest.raises(ValueError):
        json_loads(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(json_values, st.sampled_from(["", " ", "\n", "\t\r\n "]))
def test_json_loads_gives_what_json_loads_gives(value: Any, space: str) -> None:
    """The scanner shortcut behind ``json_loads`` (keys._json_scan) is a speed trick: it must equal json.loads."""
    text = space + json.dumps(value, ensure_ascii=False) + space
    assert json_loads(text.encode()) == json.loads(text)


def test_json_bytes_is_compact_utf8_and_refuses_nan() -> None:
    assert json_bytes({"a": ["é", 1]}) == '{"a":["é",1]}'.encode()
    with pytest.raises(ValueError):
        json_bytes({"a": float("nan")})
