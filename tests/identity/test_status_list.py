from __future__ import annotations

import zlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.errors import StatusListInvalid
from identity.status_list import StatusList, StatusListCache, parse_status_list_jwt, status_list_jwt
from keys.encoding import b64url_encode
from tests.identity.conftest import NOW, TestSigner


def test_spec_bit_order_example() -> None:
    # Token Status List draft, 1-bit example: statuses at indices 0,3,4,5,7,8,9,13,15 set -> bytes b9 a3
    sl = StatusList(16)
    for i in (0, 3, 4, 5, 7, 8, 9, 13, 15):
        sl.set(i, 1)
    assert sl.to_bytes() == bytes([0xB9, 0xA3])
    assert StatusList.decode(sl.encode()).to_bytes() == sl.to_bytes()


@given(st.sets(st.integers(0, 1023), max_size=50))
def test_encode_decode_round_trip(revoked: set[int]) -> None:
    sl = StatusList(1024)
    for i in revoked:
        sl.set(i, 1)
    back = StatusList.decode(sl.encode())
    assert {i for i in range(1024) if back.get(i)} == revoked


def test_compressed_bomb_is_refused() -> None:
    lst = b64url_encode(zlib.compress(bytes(64 * 1024 * 1024)))
    with pytest.raises(StatusListInvalid):
        StatusList.decode(lst)


def test_token_shape() -> None:
    signer = TestSigner()
    token = status_list_jwt(
        signer,
        StatusList(1024),
        uri="https://x/v1/status-lists/a",
        issuer="https://x",
        now=NOW,
        ttl=timedelta(minutes=5),
    )
    parsed = parse_status_list_jwt(token)
    assert parsed.jws.header["typ"] == "statuslist+jwt"
    assert parsed.uri == "https://x/v1/status-lists/a"
    assert parsed.ttl == 300
    assert parsed.jws.payload["status_list"]["bits"] == 1
    assert parsed.exp is not None and parsed.exp > parsed.jws.payload["iat"]


def test_cache_honours_ttl_with_an_injected_clock() -> None:
    signer = TestSigner()
    now = [NOW]
    calls: list[str] = []

    def fetch(uri: str) -> str:
        calls.append(uri)
        return status_list_jwt(signer, StatusList(8), uri=uri, issuer="i", now=now[0], ttl=timedelta(seconds=60))

    cache = StatusListCache(fetch, lambda: now[0])
    cache("u")
    cache("u")
    assert calls == ["u"]
    now[0] += timedelta(seconds=61)
    cache("u")
    assert calls == ["u", "u"]
    cache.invalidate()
    cache("u")
    assert len(calls) == 3
