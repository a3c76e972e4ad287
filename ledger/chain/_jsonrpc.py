"""The chain package's one path to the node below web3's methods: JSON-RPC batches and single raw requests.

Over HTTP, many reads go in one batch (one round trip), and a hot read goes as one bare request: web3's ``w3.eth``
methods can neither batch nor skip their validation middleware (an ``eth_chainId`` round trip or two per call).
Providers that cannot batch (eth-tester) get ``None`` here, and the caller uses web3's methods instead.
Transport failures become ``ChainUnavailable`` in one place, :func:`transport_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from web3 import HTTPProvider, Web3
from web3.exceptions import ProviderConnectionError
from web3.types import RPCEndpoint, RPCResponse

from ledger.errors import ChainUnavailable

__all__ = ["Request", "batch", "batch_responses", "http_provider", "request", "transport_errors"]

#: One JSON-RPC request: the method and its parameters.
Request = tuple[str, Sequence[Any]]


@contextmanager
def transport_errors() -> Iterator[None]:
    """Turns transport failures into ChainUnavailable; contract reverts and RPC errors pass through."""
    try:
        yield
    except (OSError, ProviderConnectionError) as exc:  # requests' errors are OSErrors
        raise ChainUnavailable(f"the Ethereum node is unreachable: {type(exc).__name__}") from exc


def http_provider(w3: Web3) -> HTTPProvider | None:
    """The provider of ``w3`` when it speaks JSON-RPC over HTTP (and so can batch); None otherwise."""
    provider = w3.provider
    return provider if isinstance(provider, HTTPProvider) else None


def batch_responses(provider: HTTPProvider, requests: Sequence[Request]) -> list[RPCResponse] | None:
    """The raw responses to one batch, in order; None when the node did not answer each request once."""
    with transport_errors():
        responses = provider.make_batch_request([(RPCEndpoint(method), list(params)) for method, params in requests])
    if not isinstance(responses, list) or len(responses) != len(requests):
        return None
    return responses


def batch(w3: Web3, requests: Sequence[Request]) -> list[Any] | None:
    """The results of ``requests`` in one round trip, in order; None when ``w3`` cannot batch (or nothing is asked).

    An incomplete answer, or any request refused, raises ChainUnavailable.
    """
    provider = http_provider(w3)
    if provider is None or not requests:
        return None
    responses = batch_responses(provider, requests)
    if responses is None:
        raise ChainUnavailable("the node answered a batch incompletely")
    return [_result(method, response) for (method, _), response in zip(requests, responses, strict=True)]


def request(provider: HTTPProvider, method: str, params: Sequence[Any]) -> Any:
    """The result of one bare request (no web3 middleware); a refusal raises ChainUnavailable."""
    with transport_errors():
        response = provider.make_request(RPCEndpoint(method), list(params))
    return _result(method, response)


def _result(method: str, response: RPCResponse) -> Any:
    if "error" in response:
        error: Any = response["error"]
        message = error.get("message", "error") if isinstance(error, dict) else str(error)
        raise ChainUnavailable(f"the node refused {method}: {message}")
    return response.get("result")
