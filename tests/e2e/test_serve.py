"""The service as a user runs it: ``xacthuc serve --dev`` on a fresh data dir with the embedded anvil, its health
probes, Ctrl-C with no orphan process, a restart that finds the same chain, and ``xacthuc anchor --wait``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from xacthuc.devchain import free_port

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path, port: int, anvil_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_PORT=str(port),
        XACTHUC_ANVIL_PORT=str(anvil_port),
        XACTHUC_BATCH_INTERVAL="0.2",
    )
    return env


def _xacthuc(*args: str) -> list[str]:
    return [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.anvil_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> dict[str, Any]:
        self.proc = subprocess.Popen(
            _xacthuc("serve", "--dev"),
            cwd=ROOT,
            env=_env(self.data_dir, self.port, self.anvil_port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)

    def anvil_pid(self) -> int:
        out = subprocess.run(["pgrep", "-f", f"anvil .*--port {self.anvil_port}"], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        assert len(pids) == 1, out.stdout
        return pids[0]

    def interrupt(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "var")
    try:
        yield s
    finally:
        s.kill()
        subprocess.run(["pkill", "-KILL", "-f", f"anvil .*--port {s.anvil_port}"], check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_is_ready_stops_cleanly_and_keeps_its_chain(server: Server) -> None:
    ready = server.start()
    assert ready["status"] == "ready" and ready["chain_id"] == 31337 and ready["contract"].startswith("0x")
    assert httpx.get(f"http://127.0.0.1:{server.port}/healthz").json() == {"status": "ok"}
    creds_path = server.data_dir / "dev-credentials.json"
    assert creds_path.stat().st_mode & 0o777 == 0o600
    creds = json.loads(creds_path.read_text())
    names = {a["name"] for a in creds["agencies"]}
    assert {"Ủy ban nhân dân Thành phố Hồ Chí Minh", "Công an Thành phố Hồ Chí Minh"} <= names
    assert all(a["api_key"] for a in creds["agencies"])
    anvil = server.anvil_pid()

    server.interrupt()
    assert server.proc is not None and server.proc.stderr is not None
    log = server.proc.stderr.read().decode()
    assert str(creds_path) in log  # its standard error is a pipe, not a terminal: where the keys are, never a key
    assert not any(a["api_key"] in log for a in creds["agencies"]) and creds["admin_token"] not in log
    deadline = time.monotonic() + 15
    while _alive(anvil):
        assert time.monotonic() < deadline, "anvil outlived the server"
        time.sleep(0.1)

    again = server.start()
    assert again["contract"] == ready["contract"]
    assert again["block"] >= ready["block"]
    server.interrupt()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_terminated_or_killed_server_leaves_no_node_behind(server: Server, sig: signal.Signals) -> None:
    server.start()
    anvil = server.anvil_pid()
    assert server.proc is not None
    server.proc.send_signal(sig)  # a service manager's stop, or a crash
    server.proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while _alive(anvil):
        assert time.monotonic() < deadline, f"anvil outlived a server stopped by {sig.name}"
        time.sleep(0.1)


def test_anchor_wait_and_chain_status_from_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {**_env(data_dir, free_port(), free_port()), "XACTHUC_DEV_MODE": "true"}
    init = subprocess.run(_xacthuc("init"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    status = subprocess.run(
        _xacthuc("chain", "status", "--json"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["chain_id"] == 31337 and info["rpc_url"].startswith("http://127.0.0.1:")
    anchored = subprocess.run(
        _xacthuc("anchor", "--wait", "--json"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert anchored.returncode == 0, anchored.stderr
    assert json.loads(anchored.stdout)["pending_leaves"] == 0
