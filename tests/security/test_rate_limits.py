"""Issue 15, abuse: rate limits on /v1/verify, the staff sign-in and every authenticated route (xacthuc/rate_limit.py),
per client address and per API key, answered 429 ``RATE_LIMITED`` with an honest ``Retry-After``; configurable
(``XACTHUC_RATE_LIMITS``) and switched off with ``0``.

Through the real app (TestClient, one client address per client, a clock of the test's own), and once through a real
``xacthuc serve`` process behind which uvicorn takes the client's address from a trusted proxy's X-Forwarded-For.
tests/conftest.py turns rate limits off for the rest of the suite; every test here names the rates it wants.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.types import Message, Receive, Scope, Send

from keys.bootstrap import CREDENTIALS_FILE, City, bootstrap_city
from keys.keystore import TEST_KDF
from tests.deploy.compose_parser import resolved_config, scratch_project
from tests.plugins.chain import anvil_binary
from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import free_port
from xacthuc.rate_limit import (
    BUCKETS,
    DEFAULT_RATES,
    MAX_BUCKETS,
    Rate,
    RateLimit,
    RateLimiter,
    client_key,
    parse_rate_limits,
)
from xacthuc.services import Services
from xacthuc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
JUNK = {"payload": "not a verification link"}
PASSPHRASE = "rate limits passphrase"


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class World:
    engine: Engine
    city: City
    data_dir: Path
    creds: dict[str, Any]

    def key(self, n: int = 0) -> str:
        return str(self.creds["agencies"][n]["api_key"])

    def staff(self) -> tuple[str, str]:
        one = self.creds["agencies"][0]["staff"][0]
        return str(one["username"]), str(one["password"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One demo city (agencies with API keys, staff accounts) on SQLite: the limiter keeps nothing in the database."""
    tmp = tmp_path_factory.mktemp("rate-limits")
    engine = make_engine(f"sqlite:///{tmp / 'test.db'}")
    migrate(engine)
    data_dir = tmp / "var"
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, NOW - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    creds = json.loads((data_dir / CREDENTIALS_FILE).read_text(encoding="utf-8"))
    yield World(engine, city, data_dir, creds)
    engine.dispose()


Limits = Callable[[str], "Clock"]
SETTING = "verify=7/70,signin=8/80,api=9/90"


@pytest.fixture(scope="module")
def app(world: World) -> FastAPI:
    """The real app, built once (building it costs about a second); each test sets its rates with ``limits``."""
    settings = Settings(_env_file=None, data_dir=world.data_dir, rate_limits=SETTING)
    services = Services(settings=settings, engine=world.engine, city=world.city, clock=lambda: NOW)
    return create_app(services, rate_clock=Clock())


@pytest.fixture
def limits(app: FastAPI) -> Limits:
    """Sets the app's rates (as ``XACTHUC_RATE_LIMITS`` says them), forgets every bucket, and gives the clock."""

    def set_rates(rates: str) -> Clock:
        limiter: RateLimiter = app.state.rate_limiter
        limiter.clock = clock = Clock()
        limiter.reset(parse_rate_limits(rates))
        return clock

    return set_rates


def client(app: FastAPI, address: str = "198.51.100.7") -> TestClient:
    return TestClient(app, client=(address, 40000), raise_server_exceptions=False, follow_redirects=False)


def assert_limited(r: httpx.Response, retry_after: int | None = None) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "RATE_LIMITED", r.text
    seconds = int(r.headers["Retry-After"])
    assert seconds >= 1
    if retry_after is not None:
        assert seconds == retry_after
    return seconds


def passes(r: httpx.Response) -> bool:
    assert r.status_code < 500, r.text  # an allowed request gets the route's own answer, never an error of ours
    return r.status_code != 429


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ------------------------------------------------------------------------------------------------ the setting
def test_the_setting_reaches_the_app(app: FastAPI) -> None:
    limiter: RateLimiter = app.state.rate_limiter
    assert limiter.rates == {"verify": Rate(7, 70), "signin": Rate(8, 80), "api": Rate(9, 90)}  # SETTING
    assert limiter.max_buckets == MAX_BUCKETS


def test_rate_limits_setting_names_each_bucket_and_switches_off() -> None:
    defaults = {name: Rate(*DEFAULT_RATES[name]) for name in BUCKETS}
    assert parse_rate_limits(None) == defaults
    assert parse_rate_limits("") == defaults
    for off in ("0", "off", " OFF "):
        assert parse_rate_limits(off) == dict.fromkeys(BUCKETS)
    assert parse_rate_limits("verify=10/1") == {**defaults, "verify": Rate(10, 1)}
    assert parse_rate_limits("verify=0, api=5/2.5") == {**defaults, "verify": None, "api": Rate(5, 2.5)}
    for bad in ("verfy=1/60", "verify", "verify=1", "verify=a/60", "verify=0/60", "verify=1/0", "verify=-1/60"):
        with pytest.raises(ValueError, match="XACTHUC_RATE_LIMITS"):
            parse_rate_limits(bad)
        with pytest.raises(ValidationError):  # a typo stops the server at start, not silently unlimited
            Settings(_env_file=None, rate_limits=bad)


def test_the_documented_defaults_are_the_defaults() -> None:
    text = ",".join(f"{name}={Rate(*DEFAULT_RATES[name])}" for name in BUCKETS)
    assert text == "verify=300/60,signin=20/60,api=1200/60"
    assert text in (Settings.model_fields["rate_limits"].description or "")
    assert f"`{text}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    limits_md = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    for name in BUCKETS:
        assert f"| `{name}` | `{Rate(*DEFAULT_RATES[name])}` |" in limits_md, name


def test_production_defaults_let_a_bank_counter_through_and_stop_a_scraper() -> None:
    verify = parse_rate_limits(None)["verify"]
    assert verify is not None
    per_minute = verify.per_second * 60
    assert per_minute >= 120  # twenty counters behind one address, one document every ten seconds each
    assert verify.per_second <= 10  # a script at the server's own speed (hundreds a second) is cut to a trickle


# ------------------------------------------------------------------------------------------------- /v1/verify
@pytest.mark.attack
def test_verify_flood_from_one_address_is_refused_with_retry_after(app: FastAPI, limits: Limits) -> None:
    limits("verify=3/60")
    c = client(app)
    assert all(passes(c.post("/v1/verify", json=JUNK)) for _ in range(3))
    r = c.post("/v1/verify", json=JUNK)
    assert_limited(r, retry_after=20)  # one token every 60/3 seconds
    assert r.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in r.headers  # refused inside the app's security headers
    metrics = c.get("/metrics").text  # counted under the bucket's name (never the path: it may carry an id)
    assert re.search(r'xacthuc_http_requests_total\{[^}]*rate-limited:verify[^}]*"429"[^}]*\} [1-9]', metrics), metrics
    assert_limited(c.get("/v1/verify"))  # any method on the path counts


@pytest.mark.attack
def test_retry_after_is_honest(app: FastAPI, limits: Limits) -> None:
    clock = limits("verify=3/10")  # a token every 3 1/3 seconds: whole seconds, rounded up
    c = client(app)
    assert all(passes(c.post("/v1/verify", json=JUNK)) for _ in range(3))
    wait = assert_limited(c.post("/v1/verify", json=JUNK), retry_after=4)
    clock.advance(wait - 1)
    assert_limited(c.post("/v1/verify", json=JUNK), retry_after=1)  # not a second early
    clock.advance(1)
    assert passes(c.post("/v1/verify", json=JUNK))  # after Retry-After seconds the request passes
    assert_limited(c.post("/v1/verify", json=JUNK), retry_after=3)  # 0.2 tokens left: the refused took none


@pytest.mark.attack
def test_two_addresses_have_independent_buckets(app: FastAPI, limits: Limits) -> None:
    limits("verify=2/60")
    a, b = client(app, "198.51.100.1"), client(app, "198.51.100.2")
    assert all(passes(a.post("/v1/verify", json=JUNK)) for _ in range(2))
    assert_limited(a.post("/v1/verify", json=JUNK))
    assert all(passes(b.post("/v1/verify", json=JUNK)) for _ in range(2))
    assert_limited(a.post("/v1/verify", json=JUNK))


@pytest.mark.attack
def test_ipv6_addresses_of_one_64_network_share_a_bucket(app: FastAPI, limits: Limits) -> None:
    assert client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::5") != client_key("2001:db8:1:2::5")
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    limits("verify=2/60")
    assert passes(client(app, "2001:db8:1:2::5").post("/v1/verify", json=JUNK))
    assert passes(client(app, "2001:db8:1:2::6").post("/v1/verify", json=JUNK))
    assert_limited(client(app, "2001:db8:1:2:abcd::1").post("/v1/verify", json=JUNK))  # a new host, same /64
    assert passes(client(app, "2001:db8:1:3::5").post("/v1/verify", json=JUNK))


@pytest.mark.attack
def test_verify_page_calls_count_in_the_verify_bucket(app: FastAPI, limits: Limits) -> None:
    """The pages cost nothing; what they ask the server (POST /v1/verify as api.js sends it, multipart or JSON, and
    POST /v1/presentation-requests from /verify/request) counts per address; the page reads the refusal in its
    language from the same JSON error body."""
    limits("verify=3/60")
    c = client(app)
    for page in ("/verify", "/v", "/verify/request", "/"):
        assert all(c.get(page).status_code == 200 for _ in range(5)), page
    page_headers = {"Accept-Language": "vi"}
    assert passes(c.post("/v1/verify", files={"image": ("qr.png", b"not a png", "image/png")}, headers=page_headers))
    assert passes(c.post("/v1/verify", json=JUNK, headers=page_headers))
    assert passes(c.post("/v1/presentation-requests", json={"claims": ["age_over_18"]}))
    r = c.post("/v1/verify", json=JUNK, headers=page_headers)
    assert_limited(r, retry_after=20)
    assert r.json()["error"]["lang"] == "vi"
    assert r.json()["error"]["message"] == "Có quá nhiều yêu cầu trong thời gian ngắn. Vui lòng thử lại sau 20 giây."
    assert_limited(c.post("/v1/presentation-requests", json={"claims": ["age_over_18"]}))


def test_public_probes_keys_and_polling_are_never_limited(app: FastAPI, limits: Limits) -> None:
    limits("verify=1/60,signin=1/60,api=1/60")
    c = client(app)
    routes = ["/healthz", "/v1/trust-root", "/.well-known/jwks.json", "/v1/messages", "/agency/signin"]
    routes.append("/v1/presentation-requests/no-such-request")  # the request page polls it once a second
    for route in routes:
        assert all(passes(c.get(route)) for _ in range(5)), route


# ----------------------------------------------------------------------------------------- authenticated routes
@pytest.mark.attack
def test_api_requests_are_limited_per_key_and_per_address(app: FastAPI, limits: Limits, world: World) -> None:
    limits("api=3/60")
    x, y = client(app, "198.51.100.10"), client(app, "198.51.100.11")
    k1, k2 = world.key(0), world.key(1)
    assert all(passes(x.get("/v1/documents/no-such-document", headers=auth(k1))) for _ in range(3))
    assert_limited(x.get("/v1/documents/no-such-document", headers=auth(k1)), retry_after=20)
    assert_limited(y.get("/v1/documents/no-such-document", headers=auth(k1)))  # the key, from a fresh address
    assert passes(y.get("/v1/documents/no-such-document", headers=auth(k2)))  # another key, another address
    assert_limited(x.get("/v1/documents/no-such-document", headers=auth(k2)))  # the address, with a fresh key


@pytest.mark.attack
def test_another_key_is_independent_of_a_limited_key(app: FastAPI, limits: Limits, world: World) -> None:
    limits("api=2/60")
    k1, k2 = world.key(0), world.key(1)
    assert all(passes(client(app, f"198.51.100.{20 + i}").get("/v1/trust-list", headers=auth(k1))) for i in range(2))
    assert_limited(client(app, "198.51.100.30").get("/v1/trust-list", headers=auth(k1)))
    assert passes(client(app, "198.51.100.31").get("/v1/trust-list", headers=auth(k2)))
    assert passes(client(app, "198.51.100.31").get("/v1/trust-list", headers=auth(k2)))


@pytest.mark.attack
def test_guessing_api_keys_from_one_address_is_limited(app: FastAPI, limits: Limits) -> None:
    limits("api=5/60")
    c = client(app)
    answers = [c.post("/v1/citizens", json={}, headers=auth(f"xk_guess{i:04d}_secret")) for i in range(8)]
    assert [r.status_code for r in answers[:5]] == [401] * 5
    for r in answers[5:]:
        assert_limited(r, retry_after=12)


@pytest.mark.attack
def test_staff_portal_requests_are_limited_per_session(app: FastAPI, limits: Limits) -> None:
    limits("api=2/60")
    c = client(app)
    c.cookies.set("xacthuc_session", "a-session-token", path="/agency")
    assert all(passes(c.get("/agency/documents")) for _ in range(2))
    r = c.get("/agency/documents", headers={"Accept": "text/html"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "30"
    assert r.headers["Content-Type"].startswith("text/html") and "Too many requests" in r.text


# --------------------------------------------------------------------------------------------------- sign-in
def _signin_token(c: TestClient) -> str:
    form = c.get("/agency/signin")
    match = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert match is not None, form.text
    return match.group(1)


@pytest.mark.attack
def test_signin_attempts_from_one_address_are_limited(app: FastAPI, limits: Limits) -> None:
    limits("signin=2/60")
    c = client(app)
    browser = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "vi"}
    form = {"username": "nobody", "password": "wrong password 1"}
    assert all(passes(c.post("/agency/signin", data=form, headers=browser)) for _ in range(2))
    r = c.post("/agency/signin", data=form, headers=browser)
    assert r.status_code == 429 and r.headers["Retry-After"] == "30"
    assert r.headers["Content-Type"].startswith("text/html")  # a browser's form post gets a page, in its language
    assert '<html lang="vi">' in r.text and "thử lại sau 30 giây" in r.text
    assert_limited(c.post("/agency/signin", data=form))  # a script asking for JSON gets the error body
    other = client(app, "198.51.100.99")
    assert passes(other.post("/agency/signin", data=form))


@pytest.mark.attack
def test_failed_signins_are_still_throttled_per_account(app: FastAPI, limits: Limits, world: World) -> None:
    """The rate limit stands in front of the per-account throttle of failed sign-ins (keys.signin_throttle), which
    stays: three wrong passwords, and the account must wait (429 SIGNIN_THROTTLED's page, not RATE_LIMITED)."""
    limits("signin=100/60")
    c = client(app, "198.51.100.50")
    username, password = world.staff()
    token = _signin_token(c)
    wrong = {"username": username, "password": "not the password", "signin_token": token}
    assert [c.post("/agency/signin", data=wrong).status_code for _ in range(3)] == [401] * 3
    r = c.post("/agency/signin", data={**wrong, "password": password})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.headers["Content-Type"].startswith("text/html") and "RATE_LIMITED" not in r.text


# ------------------------------------------------------------------------------------------------- off switches
@pytest.mark.parametrize("off", ["0", "off"])
def test_zero_switches_every_rate_limit_off(app: FastAPI, limits: Limits, world: World, off: str) -> None:
    settings = Settings(_env_file=None, rate_limits=off)
    assert not RateLimiter(parse_rate_limits(settings.rate_limits)).enabled
    limits(off)
    assert not app.state.rate_limiter.enabled
    c = client(app)
    assert all(passes(c.post("/v1/verify", json=JUNK)) for _ in range(25))
    assert all(passes(c.post("/agency/signin", data={"username": "x"})) for _ in range(25))
    assert all(passes(c.get("/v1/trust-list", headers=auth(world.key()))) for _ in range(25))
    assert len(app.state.rate_limiter) == 0  # nothing counted, nothing kept


def test_one_bucket_switched_off_leaves_the_others(app: FastAPI, limits: Limits) -> None:
    limits("verify=0,signin=1/60")
    c = client(app)
    assert all(passes(c.post("/v1/verify", json=JUNK)) for _ in range(25))
    assert passes(c.post("/agency/signin", data={"username": "x"}))
    assert c.post("/agency/signin", data={"username": "x"}).status_code == 429


# -------------------------------------------------------------------------------------------------- memory
async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _status(middleware: RateLimit, address: str) -> int:
    scope: Scope = {"type": "http", "method": "POST", "path": "/v1/verify", "headers": [], "client": (address, 1)}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.attack
def test_a_flood_of_addresses_cannot_grow_the_buckets_without_end() -> None:
    limiter = RateLimiter(parse_rate_limits("verify=2/60"), clock=Clock(), max_buckets=100)
    middleware = RateLimit(_answer, limiter)

    async def flood() -> None:
        assert [await _status(middleware, "203.0.113.1") for _ in range(3)] == [204, 204, 429]
        for i in range(99):  # the abuser's bucket is among the 100 most recent: it stays refused
            assert await _status(middleware, f"10.0.{i // 256}.{i % 256}") == 204
        assert await _status(middleware, "203.0.113.1") == 429
        for i in range(20_000):
            await _status(middleware, f"10.{1 + i // 65536}.{i // 256 % 256}.{i % 256}")
            assert len(limiter) <= 100
        assert len(limiter) == 100

    asyncio.run(flood())


# ------------------------------------------------------------------------------------------ deployment, process
def test_compose_api_takes_the_client_address_from_its_proxy(tmp_path: Path) -> None:
    """Behind docker-compose's caddy, the replicas see the proxy's address; uvicorn's FORWARDED_ALLOW_IPS makes them
    take the client's from X-Forwarded-For, which caddy sets itself (it trusts no client's; no trusted_proxies)."""
    api = resolved_config(scratch_project(tmp_path))["services"]["api"]
    assert api["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert "ports" not in api  # only the proxy reaches it
    assert "trusted_proxies" not in (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")


@pytest.mark.attack
@pytest.mark.anvil
@pytest.mark.slow
def test_serve_limits_each_forwarded_client_separately(tmp_path: Path) -> None:
    """A real ``xacthuc serve``: behind a proxy on the same host (uvicorn trusts 127.0.0.1's X-Forwarded-For by
    default), each client has its own bucket, and the proxy's own requests another."""
    data_dir, port = tmp_path / "var", free_port()
    data_dir.mkdir()
    engine = make_engine(f"sqlite:///{(data_dir / 'xacthuc.db').resolve()}")  # the data dir's own database
    migrate(engine)
    with Session(engine) as session:  # a city made here with the tests' fast KDF: serve only unlocks it
        bootstrap_city(data_dir, session, PASSPHRASE, datetime.now(UTC) - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_PORT=str(port),
        XACTHUC_DEV_MODE="true",  # the embedded node and its registry
        XACTHUC_KEYSTORE_PASSPHRASE=PASSPHRASE,
        XACTHUC_ANVIL_BIN=str(anvil_binary()),
        XACTHUC_RATE_LIMITS="verify=2/60",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "from xacthuc.cli import main; main()", "serve", "--no-worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as c:

            def verify(forwarded: str | None) -> httpx.Response:
                headers = {"X-Forwarded-For": forwarded} if forwarded else {}
                return c.post("/v1/verify", json=JUNK, headers=headers)

            assert all(passes(verify("203.0.113.7")) for _ in range(2))
            assert_limited(verify("203.0.113.7"), retry_after=30)
            assert passes(verify("203.0.113.8"))
            assert passes(verify(None))
            assert all(c.get("/healthz").status_code == 200 for _ in range(5))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
