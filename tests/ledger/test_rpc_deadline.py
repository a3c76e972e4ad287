"""Issue 8, item 9 (the transport): every chain call has a deadline, is sent once, and a hung node is short-circuited.

The "node" here is a TCP server that accepts connections and never answers, as a stopped process's socket does; it
counts the connections it accepted, so the tests observe what reached it rather than how long anything took.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from web3 import Web3

from ledger.chain.client import RegistryClient
from ledger.chain.rpc_transport import DeadlineHTTPProvider, NodeNotAnswering, rpc_deadline
from ledger.errors import ChainUnavailable


class SilentNode:
    """Accepts connections, reads nothing, answers nothing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def wait_for_connections(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < n:
            assert time.monotonic() < deadline, f"{len(self.accepted)} connections, expected {n}"
            time.sleep(0.01)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentNode]:
    node = SilentNode()
    try:
        yield node
    finally:
        node.close()


def _finishes(fn: object, timeout: float = 20.0) -> BaseException | None:
    """Runs ``fn`` in a thread; fails the test if it has not returned by ``timeout`` (a deadline, not a timing)."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()  # type: ignore[operator]
            out.append(None)
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert out, "the call did not return"
    return out[0]


def test_a_call_to_a_hung_node_times_out_once_without_retries(silent: SilentNode) -> None:
    w3 = Web3(DeadlineHTTPProvider(silent.url, timeout=0.3, cooldown=60))
    error = _finishes(lambda: w3.eth.block_number)
    assert isinstance(error, NodeNotAnswering)
    assert len(silent.accepted) == 1  # web3's default provider would have tried five times


def test_after_a_timeout_calls_fail_at_once_until_the_cooldown_ends(silent: SilentNode) -> None:
    w3 = Web3(DeadlineHTTPProvider(silent.url, timeout=0.3, cooldown=60))
    assert isinstance(_finishes(lambda: w3.eth.block_number), NodeNotAnswering)
    for _ in range(20):
        assert isinstance(_finishes(lambda: w3.eth.block_number), NodeNotAnswering)
    assert len(silent.accepted) == 1  # none of them reached the node


def test_after_the_cooldown_one_probe_at_a_time_reaches_the_node(silent: SilentNode) -> None:
    provider = DeadlineHTTPProvider(silent.url, timeout=2.0, cooldown=0)
    w3 = Web3(provider)
    assert isinstance(_finishes(lambda: w3.eth.block_number), NodeNotAnswering)
    probe_error: list[BaseException] = []

    def probe() -> None:
        try:
            _ = w3.eth.block_number
        except BaseException as exc:
            probe_error.append(exc)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    silent.wait_for_connections(2)  # the probe is with the node
    assert isinstance(_finishes(lambda: w3.eth.chain_id), NodeNotAnswering)  # others do not queue behind it
    assert len(silent.accepted) == 2
    thread.join(20)
    assert not thread.is_alive() and isinstance(probe_error[0], NodeNotAnswering)


def test_rpc_deadline_shortens_the_wait(silent: SilentNode) -> None:
    w3 = Web3(DeadlineHTTPProvider(silent.url, timeout=120, cooldown=0))

    def call() -> None:
        with rpc_deadline(0.2):
            _ = w3.eth.block_number

    assert isinstance(_finishes(call), NodeNotAnswering)  # 0.2 s, not 120 s
    with rpc_deadline(0.0), pytest.raises(NodeNotAnswering):
        _ = w3.eth.block_number
    assert len(silent.accepted) == 1  # an expired deadline does not even ask


def test_the_chain_client_reports_a_hung_node_as_chain_unavailable(silent: SilentNode) -> None:
    client = RegistryClient(Web3(DeadlineHTTPProvider(silent.url, timeout=0.3)), "0x" + "11" * 20)
    for read in (lambda: client.block_number, client.admin, lambda: client.blocks([1])):
        assert isinstance(_finishes(read), ChainUnavailable)


def test_a_node_that_answers_again_closes_the_breaker(anvil_w3: Web3) -> None:
    url = anvil_w3.provider.endpoint_uri  # type: ignore[attr-defined]
    provider = DeadlineHTTPProvider(str(url), timeout=5.0, cooldown=0)
    provider.breaker.done(False, hung=True)  # as after a timeout
    w3 = Web3(provider)
    assert w3.eth.chain_id == 31337  # the probe is answered
    assert provider.breaker.admit() is False  # closed: no probing any more
