"""Rate limits: token buckets per client address and per API key, refused with 429 ``RATE_LIMITED`` and
``Retry-After`` before any work is done (docs/limits.md, "Rate limits").

Three buckets, set by ``XACTHUC_RATE_LIMITS`` (``verify=300/60,signin=20/60,api=1200/60``: requests per seconds):

- ``verify``: per client address, for ``/v1/verify`` and the verify pages' other server call that stores something
  (``POST /v1/presentation-requests``);
- ``signin``: per client address, for ``POST /agency/signin`` (in front of the per-account throttle of failed
  sign-ins, ``keys.signin_throttle``, which stays);
- ``api``: per API key and per client address, for every request that carries credentials (an ``Authorization``
  header, or the staff portal's session cookie under ``/agency``).

A bucket holds ``requests`` tokens and refills at ``requests / seconds`` a second; a request takes one token from
each bucket it counts in, only when every one of them has one, so a refused request costs nothing and
``Retry-After`` (whole seconds, rounded up) is honest: after that long the same request passes. Health probes,
public keys, status lists, pages and their static files count in no bucket.

The client address is the ASGI scope's, which uvicorn's proxy-headers middleware sets from ``X-Forwarded-For`` only
for a peer in ``FORWARDED_ALLOW_IPS`` (``xacthuc serve`` leaves uvicorn's default: 127.0.0.1 and ::1; the compose
file trusts its proxy, docs/operations.md "Rate limits"). An IPv6 client counts by its /64 network, which one
subscriber usually holds whole. Buckets live in this process's memory, in an LRU capped at ``max_buckets``: a flood
of addresses evicts the longest-idle buckets (a bucket idle for ``seconds`` is full again, so forgetting it loses
nothing) and never grows memory without end. N replicas allow N times the rate.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape

from starlette.types import ASGIApp, Receive, Scope, Send

from keys.error_messages import error_dict, lang_from_accept_language
from keys.errors import InvalidInput, XacthucError
from xacthuc.asgi import RouteLabel

__all__ = [
    "BUCKETS",
    "DEFAULT_RATES",
    "MAX_BUCKETS",
    "Rate",
    "RateLimit",
    "RateLimited",
    "RateLimiter",
    "buckets_for",
    "client_key",
    "parse_rate_limits",
]

BUCKETS = ("verify", "signin", "api")

#: A bank verifying a queue at its counters (behind one address: a few a minute per counter, a few dozen counters)
#: stays far below 300 a minute; a script scraping at the server's speed (hundreds a second) is cut to 5 a second.
#: Twenty sign-ins a minute lets an office of twenty sign in together; every sign-in costs an Argon2 run. An
#: agency's system gets 20 requests a second sustained per key (and a burst of 1,200); bulk issuance has its own
#: batch endpoint.
DEFAULT_RATES: Mapping[str, tuple[int, float]] = {"verify": (300, 60), "signin": (20, 60), "api": (1200, 60)}

#: Buckets kept at most (about 300 bytes each: some 15 MB at the cap).
MAX_BUCKETS = 50_000

_OFF = frozenset({"0", "off"})
_EPSILON = 1e-9  # a bucket refilled for exactly Retry-After seconds has its token despite float rounding


class RateLimited(XacthucError):
    """Too many requests from this address or API key: wait ``Retry-After`` seconds."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class Rate:
    """``requests`` in ``seconds``: a bucket of ``requests`` tokens refilled at ``requests / seconds`` a second."""

    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}"


def parse_rate_limits(text: str | None) -> dict[str, Rate | None]:
    """Every bucket's rate (None: off) from ``XACTHUC_RATE_LIMITS``: unset or empty, the defaults; ``0`` or ``off``,
    all off; else ``bucket=N/S`` items, comma-separated, each bucket named overriding its default (``bucket=0``:
    that one off). An unknown bucket or a malformed item is ``InvalidInput``."""
    rates: dict[str, Rate | None] = {name: Rate(*DEFAULT_RATES[name]) for name in BUCKETS}
    text = (text or "").strip()
    if text.lower() in _OFF:
        return dict.fromkeys(BUCKETS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep or name not in rates:
            raise InvalidInput(f"XACTHUC_RATE_LIMITS: {item!r} is not bucket=N/S (buckets: {', '.join(BUCKETS)})")
        rates[name] = None if value.lower() in _OFF else _rate(name, value)
    return rates


def _rate(name: str, value: str) -> Rate:
    requests, sep, seconds = value.partition("/")
    try:
        rate = Rate(int(requests), float(seconds))
    except ValueError:
        rate = None
    if not sep or rate is None or rate.requests < 1 or not 0 < rate.seconds <= 86400:
        raise InvalidInput(f"XACTHUC_RATE_LIMITS: {name}={value!r} is not N/S (N requests in S seconds, or 0: off)")
    return rate


class RateLimiter:
    """Token buckets keyed by (bucket, key), in an LRU of at most ``max_buckets``. ``clock`` gives monotonic seconds
    (``time.monotonic``; tests pass their own); the logic itself never reads the time."""

    def __init__(
        self,
        rates: Mapping[str, Rate | None],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rates = {name: rate for name, rate in rates.items() if rate is not None}
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()  # -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return bool(self.rates)

    def reset(self, rates: Mapping[str, Rate | None] | None = None) -> None:
        """Forget every bucket (each is full again); with ``rates``, count at those from now on."""
        if rates is not None:
            self.rates = {name: rate for name, rate in rates.items() if rate is not None}
        self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, keys: Iterable[tuple[str, str]], now: float | None = None) -> int | None:
        """One token from each (bucket, key) if every one has one: None. Otherwise none is taken and the answer is
        the whole seconds until every one of them has a token again."""
        now = self.clock() if now is None else now
        held: list[tuple[tuple[str, str], Rate, float]] = []
        wait = 0.0
        for bucket, key in keys:
            rate = self.rates.get(bucket)
            if rate is None:
                continue  # this bucket is off
            tokens = self._tokens((bucket, key), rate, now)
            if tokens < 1 - _EPSILON:
                wait = max(wait, (1 - tokens) / rate.per_second)
            held.append(((bucket, key), rate, tokens))
        if wait > 0:
            return max(1, math.ceil(wait - _EPSILON))
        for name, _, tokens in held:
            self._store(name, tokens - 1, now)
        return None

    def _tokens(self, name: tuple[str, str], rate: Rate, now: float) -> float:
        stored = self._buckets.get(name)
        if stored is None:
            return float(rate.requests)
        tokens, at = stored
        return min(float(rate.requests), tokens + max(0.0, now - at) * rate.per_second)

    def _store(self, name: tuple[str, str], tokens: float, now: float) -> None:
        self._buckets[name] = (tokens, now)
        self._buckets.move_to_end(name)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)  # the longest idle: refilled by now, or nearly


def client_key(host: str) -> str:
    """The key a client address counts under: an IPv4 address itself (an IPv4-mapped IPv6 one as IPv4), an IPv6
    address by its /64 network, anything else (a test client's name, a Unix socket) as given, at most 64 chars."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


_VERIFY_PATHS = frozenset({"/v1/verify", "/v1/verify/"})
_VERIFY_POSTS = frozenset({"/v1/presentation-requests", "/v1/presentation-requests/"})
_SIGNIN = frozenset({"/agency/signin", "/agency/signin/"})
_SESSION_COOKIE = "xacthuc_session"  # xacthuc.web.agency._auth.COOKIE: read here without importing the portal


def buckets_for(scope: Scope) -> list[tuple[str, str]]:
    """The (bucket, key) pairs a request counts in (none: it is not limited)."""
    path, method = scope.get("path", ""), scope.get("method", "GET")
    client = scope.get("client")
    address = client_key(client[0] if client else "")
    if path in _VERIFY_PATHS or (method == "POST" and path in _VERIFY_POSTS):
        return [("verify", address)]
    if method == "POST" and path in _SIGNIN:
        return [("signin", address)]
    credential = _credential(scope["headers"], path)
    if credential is None:
        return []
    digest = hashlib.sha256(credential).hexdigest()[:32]  # the key itself is never kept
    return [("api", f"key:{digest}"), ("api", f"addr:{address}")]


def _credential(headers: Iterable[tuple[bytes, bytes]], path: str) -> bytes | None:
    """The request's API key header, or (under ``/agency``) its session cookie; None for an anonymous request."""
    cookie = None
    for name, value in headers:
        if name == b"authorization":
            return value
        if name == b"cookie" and path.startswith("/agency"):
            cookie = _cookie(value) or cookie
    return cookie


def _cookie(header: bytes) -> bytes | None:
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == _SESSION_COOKIE.encode() and value:
            return b"session:" + value
    return None


class RateLimit:
    """The ASGI middleware: a request over a bucket's rate is answered 429 ``RATE_LIMITED`` with ``Retry-After`` at
    once (JSON; a small page for a browser asking for HTML), before its body is read."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        keys = buckets_for(scope)
        retry_after = self.limiter.take(keys) if keys else None
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        bucket = keys[0][0]
        scope["route"] = RouteLabel(f"rate-limited:{bucket}")  # the request log's and metrics' label, not the path
        exc = RateLimited(f"too many requests ({bucket}): try again in {retry_after} seconds", retry_after=retry_after)
        await _refuse(scope, send, exc)


async def _refuse(scope: Scope, send: Send, exc: RateLimited) -> None:
    headers = dict(scope["headers"])
    lang = lang_from_accept_language(headers.get(b"accept-language", b"").decode("latin-1") or None)
    error = error_dict(exc, lang)
    if b"text/html" in headers.get(b"accept", b""):
        body = _page(error["message"], lang).encode()
        ctype = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": error}, ensure_ascii=False).encode()
        ctype = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": exc.http_status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(exc.retry_after).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _page(message: str, lang: str) -> str:
    title = "Quá nhiều yêu cầu" if lang == "vi" else "Too many requests"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/site.css"></head>'
        f"<body><main><h1>{title}</h1><p>{escape(message)}</p></main></body></html>"
    )
