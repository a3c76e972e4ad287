"""The JSON-RPC transport to the node: every call has a deadline, and a node that stops answering is short-circuited.

A hung node (stopped, overloaded, or behind a network path that still accepts connections) held each caller for
web3's HTTP timeout times its retries: every verification and readiness probe took 52 s, each holding a server
thread. With :class:`DeadlineHTTPProvider`:

- a call waits at most ``timeout`` seconds, once (no retries: the worker and the indexer loop anyway), and less
  inside :func:`rpc_deadline` (a request that must answer sooner, such as ``/readyz``, sets one);
- a call that timed out opens a breaker for ``cooldown`` seconds (twice the timeout, at least a second): calls then
  fail at once (``NodeNotAnswering``, a ``ProviderConnectionError``: the chain client reports ``CHAIN_UNAVAILABLE``)
  instead of each holding a server thread for the timeout; after the cool-down one call at a time probes the node
  while the others still fail at once, and the first answer closes the breaker.

Every transport failure of a call (a timeout, a refused or reset connection, an HTTP error status, the breaker's
refusal) is noted in one place, :meth:`DeadlineHTTPProvider.note_error`: it counts them (``errors``), remembers the
last (``last_error``; ``answering`` is False until the next answer) and tells the ``error_listeners``
(:data:`RpcErrorListener`, given the endpoint's redacted URL and the error). Running out of the caller's own
deadline (:class:`DeadlinePassed`) is not the node's failure and is not noted. Several endpoints of one chain:
``ledger.chain.rpc_failover``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, TypeVar

from requests.exceptions import Timeout
from web3 import HTTPProvider
from web3.exceptions import ProviderConnectionError
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain._rpcurl import redact_rpc_url

__all__ = [
    "DeadlineHTTPProvider",
    "DeadlinePassed",
    "NodeNotAnswering",
    "RpcErrorListener",
    "rpc_deadline",
    "time_left",
]

T = TypeVar("T")

#: Told of every transport failure against an endpoint: (the endpoint's URL, credentials redacted; the error).
RpcErrorListener = Callable[[str, BaseException], None]

_DEADLINE: ContextVar[float | None] = ContextVar("xacthuc_rpc_deadline", default=None)


@contextmanager
def rpc_deadline(seconds: float) -> Iterator[None]:
    """Chain calls made inside (in this thread or task, and in the worker threads it hands work to) end within
    ``seconds`` from now; nested deadlines keep the earliest."""
    end = time.monotonic() + seconds
    current = _DEADLINE.get()
    token = _DEADLINE.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds left of the innermost :func:`rpc_deadline` (None: no deadline is set)."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


class NodeNotAnswering(ProviderConnectionError):
    """The node did not answer in time, or did not lately (the breaker is open): not worth waiting for now."""


class DeadlinePassed(NodeNotAnswering):
    """The caller's :func:`rpc_deadline` had passed before the node was asked: no fault of the node's."""


class _Breaker:
    """Open for ``cooldown`` seconds after a call timed out; then one probe at a time until a call is answered."""

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probing = False

    def admit(self) -> bool:
        """Lets a call through (True when it is the probe of an open breaker), or raises NodeNotAnswering."""
        with self._lock:
            if self._open_until is None:
                return False
            if self._probing or time.monotonic() < self._open_until:
                raise NodeNotAnswering("the Ethereum node is not answering (it timed out moments ago)")
            self._probing = True
            return True

    def done(self, probe: bool, *, hung: bool) -> None:
        """After a call: ``hung`` when it timed out (opens the breaker), else the node answered (closes it)."""
        with self._lock:
            if probe:
                self._probing = False
            self._open_until = time.monotonic() + self.cooldown if hung else None


class DeadlineHTTPProvider(HTTPProvider):
    """web3's ``HTTPProvider`` with a per-call deadline, no retries and a breaker (see the module docstring)."""

    def __init__(self, endpoint_uri: str, *, timeout: float, cooldown: float | None = None, **kwargs: Any) -> None:
        if not timeout > 0:
            raise ValueError("the RPC timeout must be positive")
        super().__init__(
            endpoint_uri, request_kwargs={"timeout": timeout}, exception_retry_configuration=None, **kwargs
        )
        self.timeout = timeout
        self.breaker = _Breaker(max(2 * timeout, 1.0) if cooldown is None else cooldown)
        self.url = redact_rpc_url(str(endpoint_uri))
        self.errors = 0  # transport failures so far
        self.last_error: str | None = None
        self.answering = True  # False from a transport failure until the next answer
        self.error_listeners: list[RpcErrorListener] = []

    def note_error(self, exc: BaseException) -> None:
        """Where a transport failure of a call to this endpoint is noted: counted, remembered, and told to the
        ``error_listeners`` (a listener that raises is ignored: noting never changes the call's outcome)."""
        self.errors += 1
        self.last_error = type(exc).__name__
        self.answering = False
        for listener in list(self.error_listeners):
            with suppress(Exception):
                listener(self.url, exc)

    def _call_timeout(self) -> float:
        deadline = _DEADLINE.get()
        if deadline is None:
            return self.timeout
        return min(self.timeout, deadline - time.monotonic())

    def get_request_kwargs(self) -> dict[str, Any]:
        kwargs = dict(super().get_request_kwargs())
        kwargs["timeout"] = max(self._call_timeout(), 0.001)
        return kwargs

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self._guarded(lambda: super(DeadlineHTTPProvider, self).make_request(method, params))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        return self._guarded(lambda: super(DeadlineHTTPProvider, self).make_batch_request(batch_requests))

    def _guarded(self, call: Callable[[], T]) -> T:
        timeout = self._call_timeout()
        if timeout <= 0:
            raise DeadlinePassed("no time is left to ask the Ethereum node")
        try:
            probe = self.breaker.admit()
        except NodeNotAnswering as exc:
            self.note_error(exc)
            raise
        try:
            result = call()
        except Timeout as exc:
            self.breaker.done(probe, hung=True)
            error = NodeNotAnswering(f"the Ethereum node did not answer within {timeout:.3g} s")
            self.note_error(error)
            raise error from exc
        except BaseException as exc:
            self.breaker.done(probe, hung=False)  # an answer, even a refusal: the node is not hung
            if isinstance(exc, OSError | ProviderConnectionError):  # requests' errors are OSErrors
                self.note_error(exc)
            raise
        self.breaker.done(probe, hung=False)
        self.answering = True
        return result
