"""IETF Token Status List: a bit string (1 bit per credential, 1 = revoked), zlib-compressed, in a signed JWT.

The verifier side caches fetched status list tokens for their ``ttl`` (bounded), with an injected clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.errors import StatusListInvalid
from identity.sdjwt import Jws, parse_jws, sign_jws
from keys.encoding import b64url_decode, b64url_encode
from keys.limits import STATUS_LIST_BITS
from keys.protocols import Signer

STATUS_LIST_TYP = "statuslist+jwt"
DEFAULT_SIZE = 2**17  # 16 KiB of bits, a few hundred bytes compressed while sparse
MAX_BITS = STATUS_LIST_BITS
VALID, INVALID = 0, 1


class StatusList:
    """A mutable 1-bit status list. Bit ``i`` is bit ``i % 8`` (least significant first) of byte ``i // 8``."""

    def __init__(self, size: int = DEFAULT_SIZE, data: bytes | None = None) -> None:
        if size <= 0 or size % 8 or size > MAX_BITS:
            raise StatusListInvalid("status list size must be a positive multiple of 8")
        self.size = size
        self._bits = bytearray(data) if data is not None else bytearray(size // 8)
        if len(self._bits) != size // 8:
            raise StatusListInvalid("status list data does not match its size")

    def get(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise StatusListInvalid("status index out of range")
        return (self._bits[index // 8] >> (index % 8)) & 1

    def set(self, index: int, value: int) -> None:
        if not 0 <= index < self.size or value not in (0, 1):
            raise StatusListInvalid("status index or value out of range")
        mask = 1 << (index % 8)
        self._bits[index // 8] = (self._bits[index // 8] | mask) if value else (self._bits[index // 8] & ~mask)

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        """The ``lst`` member: base64url of the zlib (RFC 1950) compressed bytes."""
        return b64url_encode(zlib.compress(self.to_bytes(), 9))

    @classmethod
    def decode(cls, lst: str, max_bits: int = MAX_BITS) -> StatusList:
        try:
            d = zlib.decompressobj()
            raw = d.decompress(b64url_decode(lst), max_bits // 8 + 1)
        except (ValueError, zlib.error) as exc:
            raise StatusListInvalid("status list is not base64url zlib data") from exc
        if len(raw) > max_bits // 8 or d.unconsumed_tail or not d.eof:
            raise StatusListInvalid("status list is too large or truncated")
        return cls(len(raw) * 8, raw)


def status_list_jwt(
    signer: Signer,
    status_list: StatusList,
    *,
    uri: str,
    issuer: str,
    now: datetime,
    ttl: timedelta,
    lifetime: timedelta = timedelta(days=1),
) -> str:
    """The Status List Token for ``uri``, signed by the credentials' issuer."""
    iat = int(now.timestamp())
    payload = {
        "iss": issuer,
        "sub": uri,
        "iat": iat,
        "exp": iat + int(lifetime.total_seconds()),
        "ttl": int(ttl.total_seconds()),
        "status_list": {"bits": 1, "lst": status_list.encode()},
    }
    return sign_jws(signer, {"typ": STATUS_LIST_TYP}, payload)


@dataclass(frozen=True)
class StatusListToken:
    """A parsed (not yet verified) status list token."""

    jws: Jws
    uri: str
    exp: int | None
    ttl: int | None
    status_list: StatusList


def parse_status_list_jwt(token: str) -> StatusListToken:
    try:
        jws = parse_jws(token)
    except Exception as exc:
        raise StatusListInvalid("status list token is not a JWS") from exc
    if jws.header.get("typ") != STATUS_LIST_TYP:
        raise StatusListInvalid("status list token has the wrong typ")
    p = jws.payload
    sl: Any = p.get("status_list")
    if not isinstance(p.get("sub"), str) or not isinstance(sl, dict) or sl.get("bits") != 1:
        raise StatusListInvalid("status list token lacks sub or a 1-bit status_list")
    if not isinstance(sl.get("lst"), str):
        raise StatusListInvalid("status list token lacks lst")
    exp, ttl = p.get("exp"), p.get("ttl")
    if (exp is not None and not isinstance(exp, int)) or (ttl is not None and not isinstance(ttl, int)):
        raise StatusListInvalid("status list token has a bad exp or ttl")
    return StatusListToken(jws, p["sub"], exp, ttl, StatusList.decode(sl["lst"]))


class StatusListCache:
    """A fetcher that remembers each status list token for its ``ttl`` (at most ``max_age``).

    Use it as the ``status_fetcher`` of ``verifier.credential.verify_credential``: it has the same signature.
    """

    def __init__(
        self,
        fetch: Callable[[str], str],
        clock: Callable[[], datetime],
        *,
        default_ttl: timedelta = timedelta(minutes=5),
        max_age: timedelta = timedelta(hours=1),
        max_entries: int = 256,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._default_ttl = default_ttl
        self._max_age = max_age
        self._max_entries = max_entries
        self._entries: dict[str, tuple[datetime, str]] = {}

    def __call__(self, uri: str) -> str:
        now = self._clock()
        hit = self._entries.get(uri)
        if hit is not None and now < hit[0]:
            return hit[1]
        token = self._fetch(uri)
        try:
            ttl_s = parse_jws(token).payload.get("ttl")
        except Exception:
            ttl_s = None
        ttl = timedelta(seconds=ttl_s) if isinstance(ttl_s, int) and ttl_s >= 0 else self._default_ttl
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[uri] = (now + min(ttl, self._max_age), token)
        return token

    def invalidate(self, uri: str | None = None) -> None:
        if uri is None:
            self._entries.clear()
        else:
            self._entries.pop(uri, None)
