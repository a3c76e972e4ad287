"""identity/ on the one crypto core (keys/): disclosure text, strict parsing, the holder key, and wallet sealing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.errors import DisclosureInvalid, SdJwtMalformed, WalletLocked
from identity.sdjwt import make_disclosure, parse_disclosure, parse_jws, sign_jws
from identity.wallet import FORMAT, FORMAT_V1, create_wallet, open_wallet
from keys.encoding import b64url_decode, b64url_encode, sha256_b64url
from keys.holder_key import P256Key
from keys.jws import verify_signature

VECTORS = Path(__file__).parents[1] / "vectors" / "wallet"
WALLET_V1_PASSPHRASE = "correct horse battery"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
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
    assert b64url_decode(d.encoded) == expected
    assert d.digest == sha256_b64url(d.encoded.encode())


def test_sd_jwt_parts_follow_the_core_base64url_rule() -> None:
    """A non-canonical disclosure or JWS part (stray low bits, padding, '+') is refused, not silently normalised."""
    d = make_disclosure("salt", "given_name", "An")
    last = d.encoded[-1]
    assert parse_disclosure(d.encoded).value == "An"
    if len(d.encoded) % 4:
        bumped = d.encoded[:-1] + ("B" if last == "A" else chr(ord(last) + 1))
        with pytest.raises(DisclosureInvalid):
            parse_disclosure(bumped)
    key = P256Key.generate()
    token = sign_jws(key, {"typ": "kb+jwt"}, {"a": 1})
    h, p, s = token.split(".")
    for bad in (f"{h}=.{p}.{s}", f"{h}.{p}.{s}=", f"{h}.{p.replace('-', '+')}x.{s}"):
        with pytest.raises(SdJwtMalformed):
            parse_jws(bad)


def test_sd_jwt_header_bytes_are_unchanged() -> None:
    """``alg``, the caller's members, then ``kid``: the order the transport dictionary and the vectors rely on."""
    key = P256Key.generate()
    h = sign_jws(key, {"typ": "dc+sd-jwt"}, {"a": 1}).split(".")[0]
    assert b64url_decode(h) == b'{"alg":"ES256","typ":"dc+sd-jwt","kid":"' + key.kid.encode() + b'"}'
    h = sign_jws(key, {"typ": "kb+jwt"}, {"a": 1}, with_kid=False).split(".")[0]
    assert b64url_decode(h) == b'{"alg":"ES256","typ":"kb+jwt"}'


def test_holder_key_round_trips_and_signs_es256() -> None:
    key = P256Key.generate()
    again = P256Key.from_private_bytes(key.private_bytes())
    assert again.kid == key.kid and again.public_jwk() == key.public_jwk()
    assert sorted(key.public_jwk()) == ["crv", "kty", "x", "y"]
    sig = key.sign(b"m")
    assert len(sig) == 64 and verify_signature("ES256", key.public_jwk(), b"m", sig)


def test_wallet_of_the_first_format_still_opens(tmp_path: Path) -> None:
    """A wallet sealed by the first scheme (scrypt key, fixed AAD) opens; saving moves it to the current one."""
    path = tmp_path / "wallet.json"
    shutil.copy(VECTORS / "wallet-v1.json", path)
    assert json.loads(path.read_text())["format"] == FORMAT_V1
    wallet = open_wallet(path, WALLET_V1_PASSPHRASE)
    assert wallet.key.kid == "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0"
    assert [e.id for e in wallet.entries] == ["abc123def456"]
    with pytest.raises(WalletLocked):
        open_wallet(path, "wrong passphrase")
    wallet.save(WALLET_V1_PASSPHRASE)
    box = json.loads(path.read_text())
    assert box["format"] == FORMAT and box["kdf"]["n"] == 2**10
    reopened = open_wallet(path, WALLET_V1_PASSPHRASE)
    assert reopened.key.kid == wallet.key.kid and reopened.entries == wallet.entries


def test_wallet_box_binds_its_parameters(tmp_path: Path) -> None:
    """Every member but the nonce and the ciphertext is authenticated: altering one fails like a wrong passphrase."""
    path = tmp_path / "wallet.json"
    create_wallet(path, "passphrase-1", scrypt_n=2**10)
    assert open_wallet(path, "passphrase-1").key.kid
    box = json.loads(path.read_text())
    for change in ({"format": FORMAT_V1}, {"kdf": {**box["kdf"], "n": 2**11}}, {"extra": 1}):
        path.write_text(json.dumps({**box, **change}))
        with pytest.raises(WalletLocked):
            open_wallet(path, "passphrase-1")
    path.write_text(json.dumps(box))
    with pytest.raises(WalletLocked):
        open_wallet(path, "passphrase-2")
    raw = bytearray(b64url_decode(box["ciphertext"]))
    raw[0] ^= 1
    path.write_text(json.dumps({**box, "ciphertext": b64url_encode(bytes(raw))}))
    with pytest.raises(WalletLocked):
        open_wallet(path, "passphrase-1")
