"""Issue 14, chain failover: the switching logic of ``ledger.chain.rpc_failover`` (order, back-off, recovery, one
chain), with fake endpoints and a clock passed in, so nothing waits. The same logic against real anvil nodes, one of
them killed: tests/xacthuc/test_chain_failover.py.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain._jsonrpc import request as bare_request
from ledger.chain.rpc_failover import (
    AllEndpointsDown,
    FailoverHTTPProvider,
    endpoint_statuses,
    listen_for_rpc_errors,
    rpc_provider,
    split_rpc_urls,
)
from ledger.chain.rpc_transport import DeadlineHTTPProvider, rpc_deadline
from ledger.errors import ChainUnavailable, RpcChainMismatch
from xacthuc.devchain import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeEndpoint:
    """Answers every request with its name (and ``eth_chainId`` with its chain), or fails like a dead node."""

    def __init__(self, name: str, chain_id: int = 31337) -> None:
        self.url = f"http://{name}.example:8545"
        self.name = name
        self.chain_id = chain_id
        self.dead = False
        self.calls: list[str] = []
        self.sent: list[Any] = []  # the parameters of each eth_sendRawTransaction
        self.gate: threading.Event | None = None  # set: the next call blocks until it is set
        self.entered = threading.Event()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.calls.append(method)
        if method == "eth_sendRawTransaction":
            self.sent.append(params)
        if self.dead:
            raise requests.ConnectionError(f"{self.name} refused the connection")
        if method == "eth_chainId":
            return {"jsonrpc": "2.0", "id": 1, "result": hex(self.chain_id)}
        if self.gate is not None:
            self.entered.set()
            self.gate.wait(10)
        if method == "eth_sendRawTransaction" and params == ["0xbad"]:
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "nonce too low"}}
        return {"jsonrpc": "2.0", "id": 1, "result": self.name}

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse]:
        return [self.make_request(method, params) for method, params in batch_requests]

    def work(self) -> list[str]:
        """The calls that were not the chain-id check."""
        return [c for c in self.calls if c != "eth_chainId"]


def _pool(*names: str, backoff: float = 2.0, max_backoff: float = 16.0) -> tuple[FailoverHTTPProvider, Clock]:
    clock = Clock()
    endpoints = [FakeEndpoint(name) for name in names]
    return FailoverHTTPProvider(endpoints, backoff=backoff, max_backoff=max_backoff, clock=clock), clock


def _ep(provider: FailoverHTTPProvider, index: int) -> FakeEndpoint:
    endpoint = provider.endpoints[index]
    assert isinstance(endpoint, FakeEndpoint)
    return endpoint


def _ask(provider: FailoverHTTPProvider) -> str:
    return str(provider.make_request(RPCEndpoint("eth_blockNumber"), [])["result"])


def _in_use(provider: FailoverHTTPProvider) -> str | None:
    return next((s.url for s in provider.statuses() if s.in_use), None)


def test_calls_go_to_the_first_endpoint_in_the_configured_order() -> None:
    provider, _ = _pool("a", "b", "c")
    assert [_ask(provider) for _ in range(3)] == ["a", "a", "a"]
    assert _ep(provider, 1).calls == [] and _ep(provider, 2).calls == []
    assert _in_use(provider) == "http://a.example:8545"


def test_a_dead_endpoint_fails_over_to_the_next_and_is_reported_down() -> None:
    provider, _ = _pool("a", "b", "c")
    _ask(provider)
    _ep(provider, 0).dead = True
    assert _ask(provider) == "b"  # the same call, made again on the next endpoint
    statuses = provider.statuses()
    assert [(s.up, s.in_use) for s in statuses] == [(False, False), (True, True), (True, False)]
    assert statuses[0].errors == 1 and statuses[0].last_error == "ConnectionError"
    _ep(provider, 1).dead = True
    assert _ask(provider) == "c"
    assert _in_use(provider) == "http://c.example:8545"


def test_a_down_endpoint_is_not_asked_again_before_its_backoff() -> None:
    provider, clock = _pool("a", "b", backoff=2.0)
    _ep(provider, 0).dead = True
    assert _ask(provider) == "b"
    asked = len(_ep(provider, 0).calls)
    clock.advance(1.9)
    assert [_ask(provider) for _ in range(5)] == ["b"] * 5
    assert len(_ep(provider, 0).calls) == asked  # left alone during the back-off


def test_a_recovered_endpoint_is_used_again_after_the_backoff() -> None:
    provider, clock = _pool("a", "b", backoff=2.0)
    _ep(provider, 0).dead = True
    assert _ask(provider) == "b"
    _ep(provider, 0).dead = False  # the preferred node is back
    assert _ask(provider) == "b"  # not yet: its back-off runs
    clock.advance(2.0)
    assert _ask(provider) == "a"  # retried in its place in the order, and answered: up again, and in use
    assert [s.up for s in provider.statuses()] == [True, True]
    assert _in_use(provider) == "http://a.example:8545"


def test_the_backoff_doubles_while_the_endpoint_stays_down_up_to_the_maximum() -> None:
    provider, clock = _pool("a", "b", backoff=2.0, max_backoff=5.0)
    a = _ep(provider, 0)
    a.dead = True
    _ask(provider)  # down: retried in 2 s
    waits = []
    for _ in range(4):
        asked = len(a.calls)
        waited = 0.0
        while len(a.calls) == asked:  # step the clock by 0.5 s until the failover retries it
            clock.advance(0.5)
            waited += 0.5
            assert _ask(provider) == "b"
            assert waited <= 10, "the down endpoint was never retried"
        waits.append(waited)
    assert waits == [2.0, 4.0, 5.0, 5.0]


def test_every_endpoint_down_fails_at_once_and_reports_chain_unavailable() -> None:
    provider, clock = _pool("a", "b")
    _ep(provider, 0).dead = _ep(provider, 1).dead = True
    with pytest.raises(AllEndpointsDown, match=r"a\.example.*ConnectionError.*b\.example"):
        _ask(provider)
    asked = len(_ep(provider, 0).calls) + len(_ep(provider, 1).calls)
    with pytest.raises(ChainUnavailable):  # what the chain client reports (ledger.chain._jsonrpc.transport_errors)
        bare_request(provider, "eth_blockNumber", [])
    assert len(_ep(provider, 0).calls) + len(_ep(provider, 1).calls) == asked  # failed at once: nobody asked
    assert _in_use(provider) is None and [s.up for s in provider.statuses()] == [False, False]
    _ep(provider, 1).dead = False
    clock.advance(2.0)
    assert _ask(provider) == "b"  # recovers by itself once a node answers again


def test_a_json_rpc_error_is_an_answer_and_is_not_sent_elsewhere() -> None:
    provider, _ = _pool("a", "b")
    response = provider.make_request(RPCEndpoint("eth_sendRawTransaction"), ["0xbad"])
    assert response["error"]["message"] == "nonce too low"
    assert _ep(provider, 1).calls == [] and provider.statuses()[0].up


def test_a_broadcast_goes_to_the_next_endpoint_with_the_same_bytes() -> None:
    provider, _ = _pool("a", "b")
    _ep(provider, 0).dead = True
    raw = "0x02f86b"
    assert provider.make_request(RPCEndpoint("eth_sendRawTransaction"), [raw])["result"] == "b"
    assert _ep(provider, 1).sent == [[raw]]  # the signed bytes as given: never signed again


def test_batches_fail_over_too() -> None:
    provider, _ = _pool("a", "b")
    _ep(provider, 0).dead = True
    answers = provider.make_batch_request([(RPCEndpoint("eth_blockNumber"), []), (RPCEndpoint("eth_gasPrice"), [])])
    assert isinstance(answers, list) and [r["result"] for r in answers] == ["b", "b"]


def test_only_one_call_at_a_time_retries_a_down_endpoint() -> None:
    provider, clock = _pool("a", "b", backoff=2.0)
    a = _ep(provider, 0)
    a.dead = True
    _ask(provider)
    a.dead = False
    a.gate = threading.Event()  # the retry of "a" hangs until released
    clock.advance(2.0)
    results: list[str] = []
    probe = threading.Thread(target=lambda: results.append(_ask(provider)))
    probe.start()
    assert a.entered.wait(10), "the retry never reached the recovered endpoint"
    assert _ask(provider) == "b"  # meanwhile another call does not queue behind the retry
    a.gate.set()
    probe.join(10)
    assert results == ["a"] and _in_use(provider) == "http://a.example:8545"


def test_endpoints_of_different_chains_are_refused_at_start() -> None:
    clock = Clock()
    a, b = FakeEndpoint("a", 31337), FakeEndpoint("b", 4242)
    with pytest.raises(RpcChainMismatch) as refused:
        FailoverHTTPProvider([a, b], clock=clock).check_chain_ids()
    assert refused.value.code == "RPC_CHAIN_MISMATCH" and refused.value.http_status == 503
    assert refused.value.chain_ids == {a.url: 31337, b.url: 4242}
    assert "4242" in str(refused.value)


def test_an_unreachable_endpoint_at_start_is_checked_before_its_first_call() -> None:
    clock = Clock()
    a, b = FakeEndpoint("a", 31337), FakeEndpoint("b", 4242)
    b.dead = True
    provider = FailoverHTTPProvider([a, b], backoff=2.0, clock=clock)
    assert provider.check_chain_ids() == 31337  # b did not answer: it is asked when first reached
    b.dead, a.dead = False, True
    clock.advance(2.0)
    with pytest.raises(AllEndpointsDown, match="serves chain 4242, not 31337"):
        _ask(provider)
    assert b.work() == []  # never used for anything but the check
    statuses = provider.statuses()
    assert statuses[1].up is False and statuses[1].last_error == "wrong chain id 4242"
    a.dead = False
    clock.advance(60)
    assert [_ask(provider) for _ in range(3)] == ["a"] * 3 and b.work() == []


def test_a_spent_deadline_marks_no_endpoint_down() -> None:
    provider, _ = _pool("a", "b")
    with rpc_deadline(0), pytest.raises(ChainUnavailable):
        bare_request(provider, "eth_blockNumber", [])
    assert [s.up for s in provider.statuses()] == [True, True]
    assert _ep(provider, 0).calls == [] and _ep(provider, 1).calls == []


def test_one_url_is_one_deadline_provider_as_before() -> None:
    single = rpc_provider("http://127.0.0.1:8545", timeout=1.0)
    assert type(single) is DeadlineHTTPProvider and single.endpoint_uri == "http://127.0.0.1:8545"
    several = rpc_provider(" http://127.0.0.1:8545 , http://127.0.0.1:8546,", timeout=1.0)
    assert isinstance(several, FailoverHTTPProvider)
    assert [e.url for e in several.endpoints] == ["http://127.0.0.1:8545", "http://127.0.0.1:8546"]
    assert split_rpc_urls("a,,b ,") == ["a", "b"]
    with pytest.raises(ValueError, match="no RPC URL"):
        rpc_provider(" , ", timeout=1.0)


def test_statuses_and_errors_name_endpoints_with_credentials_redacted() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    dead = f"http://user:pw@127.0.0.1:{free_port()}/v3/{secret}"  # nothing listens there: refused at once
    alive = FakeEndpoint("b")
    provider = FailoverHTTPProvider([DeadlineHTTPProvider(dead, timeout=2.0), alive], clock=Clock())
    noted: list[tuple[str, str]] = []
    listen_for_rpc_errors(provider, lambda url, exc: noted.append((url, type(exc).__name__)))
    assert bare_request(provider, "eth_blockNumber", []) == "b"
    statuses = endpoint_statuses(provider)
    assert [(s.up, s.in_use, s.errors) for s in statuses] == [(False, False, 1), (True, True, 0)]
    shown = repr([s.to_dict() for s in statuses]) + repr(noted)
    assert secret not in shown and "pw" not in shown
    assert noted == [(statuses[0].url, "ConnectionError")]  # the hook for an RPC-errors-by-endpoint metric


def test_a_single_endpoint_reports_itself_in_use_and_notes_its_errors() -> None:
    provider = DeadlineHTTPProvider(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    noted: list[str] = []
    listen_for_rpc_errors(provider, lambda url, exc: noted.append(url))
    with pytest.raises(ChainUnavailable):
        bare_request(provider, "eth_blockNumber", [])
    [status] = endpoint_statuses(provider)
    assert status.in_use and not status.up and status.errors == 1 and noted == [provider.url]
