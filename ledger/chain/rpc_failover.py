"""Several JSON-RPC endpoints of one chain behind one provider: a call fails over to the next healthy endpoint.

``XACTHUC_RPC_URL`` may name several nodes of the same chain, comma-separated, in order of preference. Every call
(reads, batches, and broadcasts of signed transactions) goes through :class:`FailoverHTTPProvider`, the one place
that knows about more than one node:

- a call goes to the first endpoint in the configured order that is up. One that fails for a transport reason (a
  timeout, a refused or reset connection, an HTTP error status; see ``ledger.chain.rpc_transport``) is marked down
  and the same call is made again on the next one, within the caller's deadline. Answers are never retried: a
  JSON-RPC error (a revert, "already known", "nonce too low") is the chain speaking, whichever node says it;
- a down endpoint is left alone for a back-off (``backoff`` seconds, doubling after each failed retry up to
  ``max_backoff``); after it, one call at a time tries it again in its place in the order (the others go on to the
  next endpoint meanwhile), and the first answer makes it up again, so service returns to the preferred node once
  it recovers;
- when every endpoint is down and none is due for a retry, a call fails at once (``AllEndpointsDown``, a
  ``NodeNotAnswering``: the chain client reports ``CHAIN_UNAVAILABLE``);
- every endpoint must serve one chain: :meth:`FailoverHTTPProvider.check_chain_ids` asks each at start and refuses
  a mismatch (``RPC_CHAIN_MISMATCH``); an endpoint first reached later is asked before its first call, and one that
  answers another chain id is never used (it is reported down, ``wrong chain id``).

Re-sending a broadcast to another node is safe: the same signed bytes have the same hash, so the transaction is
never signed again nor duplicated, and ``RegistryClient.send_raw`` already treats "already known" as sent.

Time comes from an injected ``clock`` (seconds, monotonic), so the order, back-off and recovery are tested without
waiting. Each endpoint is a ``DeadlineHTTPProvider``: its per-call deadline, its breaker, and the one place where a
transport failure against it is noted (``note_error``, ``error_listeners``: see :func:`listen_for_rpc_errors`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from web3 import HTTPProvider
from web3.exceptions import ProviderConnectionError
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain.rpc_transport import (
    DeadlineHTTPProvider,
    DeadlinePassed,
    NodeNotAnswering,
    RpcErrorListener,
    time_left,
)
from ledger.errors import RpcChainMismatch

__all__ = [
    "AllEndpointsDown",
    "EndpointStatus",
    "FailoverHTTPProvider",
    "endpoint_statuses",
    "listen_for_rpc_errors",
    "rpc_provider",
    "split_rpc_urls",
]

log = logging.getLogger("xacthuc.chain")

T = TypeVar("T")
Clock = Callable[[], float]

#: Seconds a down endpoint is left alone at most (the back-off doubles up to this).
MAX_BACKOFF = 30.0


class AllEndpointsDown(NodeNotAnswering):
    """Every RPC endpoint failed, or is down and not yet due for a retry."""


class _Endpoint(Protocol):
    """What the failover needs of one endpoint (``DeadlineHTTPProvider``; a fake in unit tests)."""

    url: str  # credentials redacted

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse: ...

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse: ...


@dataclass(frozen=True)
class EndpointStatus:
    """One endpoint as ``/readyz`` and ``xacthuc chain status`` show it."""

    url: str  # credentials redacted
    in_use: bool  # the endpoint that answered last (what calls go to while it stays up)
    up: bool
    errors: int  # transport failures so far
    last_error: str | None  # the last failure's type, or "wrong chain id N"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "in_use": self.in_use,
            "up": self.up,
            "errors": self.errors,
            "last_error": self.last_error,
        }


@dataclass
class _Health:
    up: bool = True
    retry_at: float = 0.0  # when down: not tried before this
    backoff: float = 0.0  # when down: the current back-off
    probing: bool = False  # one call is retrying this down endpoint now
    errors: int = 0
    last_error: str | None = None
    chain_id: int | None = None  # checked against the others' on first contact
    wrong_chain: int | None = None  # it serves another chain: never used


class FailoverHTTPProvider(HTTPProvider):
    """One provider over several endpoints of one chain, in order of preference (see the module docstring).

    An ``HTTPProvider`` so that the chain package's JSON-RPC batches and bare requests (``_jsonrpc``) go through
    it as through a single node."""

    def __init__(
        self,
        endpoints: Sequence[_Endpoint],
        *,
        backoff: float = 2.0,
        max_backoff: float = MAX_BACKOFF,
        clock: Clock = time.monotonic,
    ) -> None:
        if len(endpoints) < 1:
            raise ValueError("at least one RPC endpoint is needed")
        if not 0 < backoff <= max_backoff:
            raise ValueError("the back-off must be positive and at most max_backoff")
        super().__init__(endpoints[0].url)
        self.endpoints = list(endpoints)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self._lock = threading.Lock()
        self._health = [_Health() for _ in self.endpoints]
        self._current = 0
        self._chain_id: int | None = None

    # --- Calls ----------------------------------------------------------------------------------------------------

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self._call(lambda endpoint: endpoint.make_request(method, params))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        return self._call(lambda endpoint: endpoint.make_batch_request(batch_requests))

    def _call(self, call: Callable[[_Endpoint], T]) -> T:
        failures: list[str] = []
        last: BaseException | None = None
        for index in range(len(self.endpoints)):
            if not self._admit(index):
                continue
            left = time_left()
            if left is not None and left <= 0:
                self._release(index)
                raise DeadlinePassed("no time is left to ask the Ethereum node") from last
            endpoint = self.endpoints[index]
            try:
                self._check_chain(index)
                result = call(endpoint)
            except DeadlinePassed:
                self._release(index)
                raise
            except (OSError, ProviderConnectionError) as exc:  # requests' errors are OSErrors
                self._failed(index, exc)
                failures.append(f"{endpoint.url}: {type(exc).__name__}")
                last = exc
                continue
            except _WrongChain as exc:
                failures.append(f"{endpoint.url}: {exc}")
                continue
            except BaseException:
                self._release(index)  # an answer of some kind (a JSON-RPC error, bad JSON): no transport fault
                raise
            self._answered(index)
            return result
        detail = "; ".join(failures) if failures else "each is down and not yet due for a retry"
        raise AllEndpointsDown(f"no Ethereum RPC endpoint answered ({detail})") from last

    # --- Health ---------------------------------------------------------------------------------------------------

    def _admit(self, index: int) -> bool:
        """Whether this call may try endpoint ``index`` now (claiming the retry of a down one that is due)."""
        with self._lock:
            health = self._health[index]
            if health.wrong_chain is not None:
                return False
            if health.up:
                return True
            if health.probing or self.clock() < health.retry_at:
                return False
            health.probing = True
            return True

    def _release(self, index: int) -> None:
        with self._lock:
            self._health[index].probing = False

    def _failed(self, index: int, exc: BaseException) -> None:
        with self._lock:
            health = self._health[index]
            health.backoff = self.backoff if health.up else min(2 * health.backoff, self.max_backoff)
            health.retry_at = self.clock() + health.backoff
            was_up, health.up, health.probing = health.up, False, False
            health.errors += 1
            health.last_error = type(exc).__name__
        if was_up:
            log.warning(
                "Ethereum RPC endpoint %s is down (%s): calls go to the next endpoint; retried in %.3g s",
                self.endpoints[index].url,
                type(exc).__name__,
                health.backoff,
            )

    def _answered(self, index: int) -> None:
        with self._lock:
            health = self._health[index]
            was_up = health.up
            health.up, health.probing, health.backoff = True, False, 0.0
            previous, self._current = self._current, index
        if not was_up:
            log.warning("Ethereum RPC endpoint %s answers again", self.endpoints[index].url)
        if previous != index:
            log.warning("Ethereum RPC calls now go to %s", self.endpoints[index].url)

    # --- One chain ------------------------------------------------------------------------------------------------

    def check_chain_ids(self) -> int | None:
        """Asks every endpoint its chain id; raises ``RpcChainMismatch`` when two answer differently. Returns the
        chain id (None: no endpoint answered; each is then asked before its first call)."""
        answers: dict[str, int] = {}
        for index, endpoint in enumerate(self.endpoints):
            try:
                answers[endpoint.url] = self._ask_chain_id(endpoint)
            except (OSError, ProviderConnectionError) as exc:
                self._failed(index, exc)
                continue
            with self._lock:
                self._health[index].chain_id = answers[endpoint.url]
        if len(set(answers.values())) > 1:
            raise RpcChainMismatch(chain_ids=answers)
        with self._lock:
            if answers:
                self._chain_id = next(iter(answers.values()))
            return self._chain_id

    def _check_chain(self, index: int) -> None:
        """Before the first call to an endpoint: it must serve the chain the others serve."""
        health = self._health[index]
        if health.chain_id is not None:
            return
        endpoint = self.endpoints[index]
        chain_id = self._ask_chain_id(endpoint)
        with self._lock:
            if self._chain_id is None:
                self._chain_id = chain_id
            if chain_id == self._chain_id:
                health.chain_id = chain_id
                return
            health.wrong_chain, health.up, health.probing = chain_id, False, False
            health.last_error = f"wrong chain id {chain_id}"
            expected = self._chain_id
        log.error(
            "Ethereum RPC endpoint %s serves chain %d, not chain %d like the others: it is not used",
            endpoint.url,
            chain_id,
            expected,
        )
        raise _WrongChain(f"serves chain {chain_id}, not {expected}")

    @staticmethod
    def _ask_chain_id(endpoint: _Endpoint) -> int:
        response = endpoint.make_request(RPCEndpoint("eth_chainId"), [])
        result = response.get("result")
        if not isinstance(result, str | int):
            raise ProviderConnectionError(f"{endpoint.url} answered eth_chainId without a chain id")
        return int(result, 16) if isinstance(result, str) else result

    # --- What it looks like from outside --------------------------------------------------------------------------

    def statuses(self) -> list[EndpointStatus]:
        """Each endpoint, in the configured order: up or down, and which one calls go to."""
        with self._lock:
            return [
                EndpointStatus(
                    url=endpoint.url,
                    in_use=index == self._current and health.up,
                    up=health.up,
                    errors=health.errors,
                    last_error=health.last_error,
                )
                for index, (endpoint, health) in enumerate(zip(self.endpoints, self._health, strict=True))
            ]


class _WrongChain(Exception):
    pass


def split_rpc_urls(value: str) -> list[str]:
    """The endpoints of an ``XACTHUC_RPC_URL`` value: comma-separated, blanks dropped, in order."""
    return [part.strip() for part in value.split(",") if part.strip()]


def rpc_provider(url: str, *, timeout: float) -> DeadlineHTTPProvider | FailoverHTTPProvider:
    """The provider for an ``XACTHUC_RPC_URL`` value: one URL is one ``DeadlineHTTPProvider`` exactly as before;
    several (comma-separated) are a :class:`FailoverHTTPProvider` over one each (its chain ids not yet checked)."""
    urls = split_rpc_urls(url)
    if len(urls) == 1:
        return DeadlineHTTPProvider(urls[0], timeout=timeout)
    if not urls:
        raise ValueError("no RPC URL given")
    return FailoverHTTPProvider([DeadlineHTTPProvider(u, timeout=timeout) for u in urls], backoff=max(2 * timeout, 1.0))


def endpoint_statuses(provider: object) -> list[EndpointStatus]:
    """The endpoints behind a provider (several for a failover provider, one for a ``DeadlineHTTPProvider``, none
    for anything else: eth-tester)."""
    if isinstance(provider, FailoverHTTPProvider):
        return provider.statuses()
    if isinstance(provider, DeadlineHTTPProvider):
        # the only endpoint is in use even while it fails: calls have nowhere else to go
        return [EndpointStatus(provider.url, True, provider.answering, provider.errors, provider.last_error)]
    return []


def listen_for_rpc_errors(provider: object, listener: RpcErrorListener) -> None:
    """Calls ``listener(endpoint_url, error)`` on every transport failure of a call to any endpoint behind
    ``provider`` (the URL with credentials redacted): the hook for a per-endpoint error metric."""
    if isinstance(provider, FailoverHTTPProvider):
        for endpoint in provider.endpoints:
            listen_for_rpc_errors(endpoint, listener)
    elif isinstance(provider, DeadlineHTTPProvider):
        provider.error_listeners.append(listener)
