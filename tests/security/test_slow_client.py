"""A slow client cannot hold a connection forever: the real server (``xacthuc serve``, as production runs it) cuts off
a client that never sends, trickles its headers or its body, idles on a kept-alive connection or sends endless
headers, each within a bounded time (keys.limits; docs/limits.md, "The HTTP server"), and serves others meanwhile.

Every slow client starts at once when the server is up (one background thread each), so the module waits about the
longest timeout once, not the sum; each test then polls its own client's outcome against a deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from keys.limits import (
    BODY_GRACE_SECONDS,
    BODY_MIN_BYTES_PER_SECOND,
    HEADER_BYTES,
    HEADER_TIMEOUT_SECONDS,
    KEEP_ALIVE_SECONDS,
)
from xacthuc.devchain import free_port

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SLACK = 10.0  # seconds past a timeout before the test calls the client held (a loaded two-core machine)
TRICKLE = 0.5  # seconds between two bytes of a slow client
IN_TIME = 0.1  # seconds between two bytes of a slow client that still finishes in time


@dataclass
class Outcome:
    """What one client saw: when the server closed its connection (None: still open) and every byte it got."""

    started: float = field(default_factory=time.monotonic)
    closed_after: float | None = None
    received: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    def status(self) -> int | None:
        head = self.received.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) > 1 and head[1].isdigit() else None

    def statuses(self) -> list[int]:
        return [int(line.split()[1]) for line in self.received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def _read_until_closed(sock: socket.socket, out: Outcome, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: closed with our unread bytes in its buffer
            chunk = b""
        if not chunk:
            out.closed_after = time.monotonic() - out.started
            return
        out.received += chunk


def _client(port: int, out: Outcome, stop: threading.Event, script: Callable[[socket.socket], None]) -> None:
    """Connect, run ``script`` (which sends, slowly or not) while a reader notes what comes back and when the
    server closes; ``script`` stops sending once the connection is closed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            reader = threading.Thread(target=_read_until_closed, args=(sock, out, stop), daemon=True)
            reader.start()
            with contextlib.suppress(OSError):  # the server closed the connection under our feet: the point
                script(sock)
            reader.join()
    finally:
        out.done.set()


def _trickle(
    data: bytes, out: Outcome, stop: threading.Event, every: float = TRICKLE
) -> Callable[[socket.socket], None]:
    def script(sock: socket.socket) -> None:
        for i in range(len(data)):
            if stop.is_set() or out.closed_after is not None:
                return
            sock.sendall(data[i : i + 1])
            stop.wait(every)

    return script


def _idle(out: Outcome, stop: threading.Event, first: bytes = b"") -> Callable[[socket.socket], None]:
    def script(sock: socket.socket) -> None:
        if first:
            sock.sendall(first)
        while not stop.is_set() and out.closed_after is None:
            stop.wait(0.1)

    return script


_GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
_SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000 + b"\r\n\r\n"
_BODY_LENGTH = 100_000  # far more than the trickle sends before the floor applies


def _slow_body() -> bytes:
    head = (
        b"POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % _BODY_LENGTH
    )
    return head


def _send_then_trickle(
    head: bytes, body: bytes, out: Outcome, stop: threading.Event
) -> Callable[[socket.socket], None]:
    def script(sock: socket.socket) -> None:
        sock.sendall(head)
        _trickle(body, out, stop)(sock)

    return script


def _endless_headers(out: Outcome, stop: threading.Event) -> Callable[[socket.socket], None]:
    def script(sock: socket.socket) -> None:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (HEADER_BYTES + 1))
        _idle(out, stop)(sock)

    return script


def _headers_of(size: int) -> bytes:
    """A whole request of ``size`` bytes: its request line and headers, nothing else."""
    start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    request = start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"
    assert len(request) == size
    return request


def _fitting_body(length: int) -> bytes:
    """A JSON body of ``length`` bytes that /v1/verify reads whole (and answers 4xx or 200, never a cut-off)."""
    body = b'{"payload": "' + b"x" * (length - 16) + b'"}'
    return body + b" " * (length - len(body))


Script = Callable[[socket.socket], None]
CLIENTS: dict[str, tuple[Callable[[Outcome, threading.Event], Script], float | None]] = {
    # name: (script factory, seconds by which the server must have closed it: None for a client that is served)
    "silent": (_idle, HEADER_TIMEOUT_SECONDS),
    "slow_headers": (lambda o, s: _trickle(_SLOW_HEADERS, o, s), HEADER_TIMEOUT_SECONDS),
    "slow_body": (lambda o, s: _send_then_trickle(_slow_body(), b"{" * _BODY_LENGTH, o, s), BODY_GRACE_SECONDS),
    "idle_keep_alive": (lambda o, s: _idle(o, s, first=_GET), KEEP_ALIVE_SECONDS),
    "endless_headers": (_endless_headers, HEADER_TIMEOUT_SECONDS),
    "headers_at_limit": (lambda o, s: _idle(o, s, first=_headers_of(HEADER_BYTES)), None),
    "headers_past_limit": (lambda o, s: _idle(o, s, first=_headers_of(HEADER_BYTES + 1)), HEADER_TIMEOUT_SECONDS),
    # headers a byte at a time but whole within the timeout; a body slower than the floor but within the grace
    "slow_but_in_time_headers": (lambda o, s: _trickle(_GET, o, s, every=IN_TIME), None),
    "slow_but_in_time_body": (
        lambda o, s: _send_then_trickle(
            b"POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 16\r\n\r\n",
            _fitting_body(16),
            o,
            s,
        ),
        None,
    ),
}


class Served:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.anvil_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
        env.update(
            XACTHUC_DATA_DIR=str(data_dir),
            XACTHUC_PORT=str(self.port),
            XACTHUC_ANVIL_PORT=str(self.anvil_port),
            XACTHUC_RATE_LIMITS="off",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from xacthuc.cli import main; main()", "serve", "--dev", "--no-worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@dataclass
class Run:
    served: Served
    outcomes: dict[str, Outcome]
    served_meanwhile: list[int]
    connected_meanwhile: set[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    served = Served(tmp_path_factory.mktemp("slow") / "var")
    stop = threading.Event()
    outcomes = {name: Outcome() for name in CLIENTS}
    threads = [
        threading.Thread(target=_client, args=(served.port, outcomes[name], stop, make(outcomes[name], stop)))
        for name, (make, _) in CLIENTS.items()
    ]
    try:
        for t in threads:
            t.start()
        meanwhile: list[int] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(meanwhile) < 5:  # served while every slow client is connected
            meanwhile.append(httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=10).status_code)
        connected = {name for name, o in outcomes.items() if o.closed_after is None}
        yield Run(served, outcomes, meanwhile, connected)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        served.stop()


def _closed_within(run: Run, name: str) -> Outcome:
    """Wait for ``name``'s connection to be closed by the server, no longer than its timeout and the slack."""
    out = run.outcomes[name]
    limit = CLIENTS[name][1]
    assert limit is not None
    deadline = out.started + limit + SLACK
    while out.closed_after is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out.closed_after is not None, f"{name}: still connected {limit + SLACK:g} s after it started"
    return out


def _served_whole(run: Run, name: str) -> Outcome:
    out = run.outcomes[name]
    deadline = time.monotonic() + 30
    while out.status() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return out


def test_others_are_served_while_slow_clients_hold_connections(run: Run) -> None:
    assert run.served_meanwhile and set(run.served_meanwhile) == {200}
    assert {"silent", "slow_headers", "slow_body"} <= run.connected_meanwhile


@pytest.mark.attack
def test_silent_connection_is_closed(run: Run) -> None:
    out = _closed_within(run, "silent")
    assert out.received == b""  # closed without a word: it asked nothing


@pytest.mark.attack
def test_slowloris_headers_are_cut_off(run: Run) -> None:
    out = _closed_within(run, "slow_headers")
    assert out.status() == 408 and b'"REQUEST_TIMEOUT"' in out.received
    assert out.closed_after is not None and out.closed_after >= HEADER_TIMEOUT_SECONDS * 0.9  # not cut off early


@pytest.mark.attack
def test_body_slower_than_the_floor_is_cut_off(run: Run) -> None:
    out = _closed_within(run, "slow_body")
    # two bytes a second is far below the floor; the grace passes first
    assert BODY_MIN_BYTES_PER_SECOND > 1 / TRICKLE
    assert out.status() == 408 and b'"REQUEST_TIMEOUT"' in out.received
    assert out.closed_after is not None and out.closed_after >= BODY_GRACE_SECONDS * 0.9


@pytest.mark.attack
def test_idle_keep_alive_connection_is_closed(run: Run) -> None:
    out = _closed_within(run, "idle_keep_alive")
    assert out.statuses() == [200]  # its one request was answered; then it idled and was closed


@pytest.mark.attack
def test_endless_headers_are_refused(run: Run) -> None:
    out = _closed_within(run, "endless_headers")
    assert out.status() == 431 and b'"HEADERS_TOO_LARGE"' in out.received


def test_headers_at_the_size_limit_are_served(run: Run) -> None:
    assert _served_whole(run, "headers_at_limit").status() == 200


@pytest.mark.attack
def test_headers_past_the_size_limit_are_refused(run: Run) -> None:
    out = _closed_within(run, "headers_past_limit")
    assert out.status() == 431 and b'"HEADERS_TOO_LARGE"' in out.received


def test_headers_sent_slowly_but_within_the_timeout_are_served(run: Run) -> None:
    assert len(_GET) * IN_TIME < HEADER_TIMEOUT_SECONDS / 2
    assert _served_whole(run, "slow_but_in_time_headers").status() == 200


def test_body_below_the_floor_within_the_grace_is_read(run: Run) -> None:
    assert 16 * TRICKLE < BODY_GRACE_SECONDS
    status = _served_whole(run, "slow_but_in_time_body").status()
    assert status is not None and status not in (408, 413) and status < 500
