"""Issue 8, item 6 (the port): the embedded node belongs to its server.

It always took port 8545, so a second ``xacthuc serve`` with another data dir found the first one's node there (its
own died at start), deployed into the first one's chain and claimed a state file that was never written. Now each
embedded node gets a free port (recorded in ``<data dir>/anvil/node.json`` while it runs, so the data dir's other
commands find it), a configured ``XACTHUC_ANVIL_PORT`` that is taken is refused (``ANVIL_PORT_IN_USE``), and each
node writes its own state file under its own data dir.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.chain import anvil_binary
from xacthuc.chainsetup import NODE_FILE, ChainHandle, connect
from xacthuc.devchain import AnvilNode, AnvilPortInUse, free_port
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]


def _settings(data_dir: Path, **kw: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, anvil_bin=anvil_binary(), **kw)  # type: ignore[call-arg]


def _until(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_a_configured_anvil_port_that_is_taken_is_refused(taken_port: int, tmp_path: Path) -> None:
    with pytest.raises(AnvilPortInUse) as info:
        AnvilNode(anvil_binary(), port=taken_port, state_file=tmp_path / "state.json").start()
    assert info.value.code == "ANVIL_PORT_IN_USE" and str(taken_port) in info.value.message
    assert not (tmp_path / "state.json").exists()


def test_a_second_data_dir_does_not_attach_to_the_first_ones_node_on_its_port(tmp_path: Path, anvil: AnvilNode) -> None:
    assert anvil.port is not None
    with pytest.raises(AnvilPortInUse):
        connect(_settings(tmp_path / "b", anvil_port=anvil.port))


def test_two_data_dirs_get_two_embedded_nodes_each_with_its_own_state(tmp_path: Path) -> None:
    handles: list[ChainHandle] = []
    try:
        for name in ("a", "b"):
            handles.append(connect(_settings(tmp_path / name)))
        a, b = handles
        assert a.url != b.url and a.node is not None and b.node is not None
        for name, handle in zip(("a", "b"), handles, strict=True):
            record = json.loads((tmp_path / name / "anvil" / NODE_FILE).read_text(encoding="utf-8"))
            assert record["url"] == handle.url and record["pid"] == os.getpid()
            state = tmp_path / name / "anvil" / "state.json"
            _until(state.exists, f"the node of data dir {name} never wrote its state file")
        a.w3.provider.make_request("anvil_mine", ["0x5"])  # type: ignore[arg-type]
        assert a.w3.eth.block_number == 5 and b.w3.eth.block_number == 0  # two chains, not one
    finally:
        for handle in handles:
            handle.close()
    assert not (tmp_path / "a" / "anvil" / NODE_FILE).exists()  # the record lives only while the node runs


# --------------------------------------------------------------------------------------------- real servers


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(XACTHUC_DATA_DIR=str(data_dir), XACTHUC_PORT=str(port), XACTHUC_DEV_MODE="true")
    env.update(XACTHUC_ANVIL_BIN=str(anvil_binary()), **extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]


class Server:
    def __init__(self, data_dir: Path, **extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc = subprocess.Popen(
            _cli("serve", "--no-worker"),
            cwd=ROOT,
            env=_env(data_dir, self.port, **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5)
                if r.status_code == 200:
                    return dict(r.json())
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)

    def node_url(self) -> str:
        return str(json.loads((self.data_dir / "anvil" / NODE_FILE).read_text(encoding="utf-8"))["url"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def test_two_servers_with_two_data_dirs_each_run_their_own_node(tmp_path: Path, servers: list[Server]) -> None:
    first, second = Server(tmp_path / "a"), Server(tmp_path / "b")
    servers += [first, second]
    first.ready()
    ready = second.ready()
    assert first.node_url() != second.node_url()
    _until((tmp_path / "b" / "anvil" / "state.json").exists, "the second server's node never wrote its state")

    # The data dir's other commands find its running node through the record.
    status = subprocess.run(
        _cli("chain", "status", "--json"),
        cwd=ROOT,
        env=_env(tmp_path / "b", free_port()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["rpc_url"] == second.node_url()

    first.stop()  # the second's chain is its own: it lives on
    again = second.ready()
    assert again["contract"] == ready["contract"] and again["block"] >= ready["block"]


def test_serve_refuses_a_configured_anvil_port_that_is_taken(
    tmp_path: Path, taken_port: int, servers: list[Server]
) -> None:
    server = Server(tmp_path / "a", XACTHUC_ANVIL_PORT=str(taken_port))
    servers.append(server)
    assert server.proc.wait(timeout=120) != 0
    assert server.proc.stderr is not None
    assert "ANVIL_PORT_IN_USE" in server.proc.stderr.read().decode()
