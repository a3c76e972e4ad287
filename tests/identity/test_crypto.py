"""The low-level recipes behind the hot paths: strict base64url, strict JSON, cached public keys, verification."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from identity._crypto import P256Key, b64u_decode, b64u_encode, json_loads, sha256_b64u, verify_signature
from identity.sdjwt import make_disclosure


@given(st.binary(max_size=200))
def test_b64u_round_trip_matches_the_stdlib(data: bytes) -> None:
    text = b64u_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64u_decode(text) == data


@pytest.mark.parametrize(
    "bad",
    ["YWJj=", "YQ==", "YW+j", "YW/j", "YW j", "YW\nJj", "Y", "YWJjZ", "YWJ!", "YWé"],
    ids=["pad", "pad2", "plus", "slash", "space", "newline", "one-char", "len-1-mod-4", "bang", "non-ascii"],
)
def test_b64u_decode_is_strict(bad: str) -> None:
    with pytest.raises(ValueError):
        b64u_decode(bad)


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
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(salt=st.text(max_size=24), name=st.none() | st.text(max_size=12), value=json_values)
def test_disclosure_text_is_compact_json_exactly(salt: str, name: str | None, value: Any) -> None:
    if name in ("_sd", "..."):
        return
    array = [salt, value] if name is None else [salt, name, value]
    expected = json.dumps(array, separators=(",", ":"), ensure_ascii=False).encode()
    d = make_disclosure(salt, name, value)
    assert b64u_decode(d.encoded) == expected
    assert d.digest == sha256_b64u(d.encoded.encode())


def _signed(key: P256Key, message: bytes = b"header.payload") -> tuple[dict[str, Any], bytes, bytes]:
    return key.public_jwk(), message, key.sign(message)


def test_cached_key_still_checks_every_signature() -> None:
    jwk, message, sig = _signed(P256Key.generate())
    assert verify_signature("ES256", jwk, message, sig)
    assert not verify_signature("ES256", jwk, message + b"x", sig)
    assert not verify_signature("ES256", jwk, message, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert verify_signature("ES256", dict(jwk), message, sig)


def test_alg_must_match_the_key_type() -> None:
    jwk, message, sig = _signed(P256Key.generate())
    ed = ed25519.Ed25519PrivateKey.generate()
    ed_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(ed.public_key().public_bytes_raw())}
    ed_sig = ed.sign(message)
    assert verify_signature("EdDSA", ed_jwk, message, ed_sig)
    assert not verify_signature("ES256", ed_jwk, message, ed_sig)
    assert not verify_signature("EdDSA", jwk, message, sig)
    for alg in ("none", "HS256", "ES384", "RS256", ""):
        assert not verify_signature(alg, jwk, message, sig)


@pytest.mark.parametrize(
    "change",
    [{"x": ["list"]}, {"y": {"o": 1}}, {"x": 5}, {"y": None}, {"crv": "P-384"}, {"kty": "RSA"}, {"x": "AAAA"}],
    ids=["list", "object", "int", "no-y", "p384", "rsa", "short-x"],
)
def test_malformed_jwk_never_verifies(change: dict[str, Any]) -> None:
    jwk, message, sig = _signed(P256Key.generate())
    assert not verify_signature("ES256", {**jwk, **change}, message, sig)
