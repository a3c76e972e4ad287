"""The raw chain reads of the chain index: block heads and registry logs, over HTTP in one JSON-RPC batch.

JSON-RPC answers (hex strings) and web3's own types (eth-tester) become the same small records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import HTTPProvider
from web3.exceptions import BlockNotFound as Web3BlockNotFound
from web3.exceptions import ProviderConnectionError
from web3.types import RPCEndpoint

from ledger.chain.client import RegistryClient
from ledger.errors import ChainUnavailable


@dataclass(frozen=True)
class Block:
    """A block head: number, hash, time (seconds)."""

    number: int
    hash: bytes
    timestamp: int


@dataclass(frozen=True)
class Log:
    """One registry log: where it is (block, block hash, tx), its topics and data."""

    block: int
    block_hash: bytes
    tx: bytes
    topics: tuple[bytes, ...]
    data: bytes


def _b(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _n(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


class ChainReads:
    """The few raw reads the indexer makes; over HTTP, several of them in one JSON-RPC batch (one round trip)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.w3 = client.w3

    def calls(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        """Results of ``(method, arg)`` calls: ``("number", None)``, ``("block", n)``, ``("logs", (a, b, topic0s))``."""
        try:
            if isinstance(self.w3.provider, HTTPProvider):
                return self._batch(self.w3.provider, calls)
            return [self._one(kind, arg) for kind, arg in calls]
        except (OSError, ProviderConnectionError) as exc:
            raise ChainUnavailable(f"the Ethereum node is unreachable: {type(exc).__name__}") from exc

    def _batch(self, provider: HTTPProvider, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        requests = [self._request(kind, arg) for kind, arg in calls]
        responses = provider.make_batch_request(requests)
        if not isinstance(responses, list) or len(responses) != len(calls):
            raise ChainUnavailable("the node answered a batch incompletely")
        out: list[Any] = []
        for (kind, _), response in zip(calls, responses, strict=True):
            if "error" in response:
                raise ChainUnavailable(f"the node refused {kind}: {response['error'].get('message', 'error')}")
            out.append(self._parse(kind, response.get("result")))
        return out

    def _request(self, kind: str, arg: Any) -> tuple[RPCEndpoint, list[Any]]:
        if kind == "number":
            return RPCEndpoint("eth_blockNumber"), []
        if kind == "block":
            return RPCEndpoint("eth_getBlockByNumber"), [hex(arg), False]
        start, end, topics = arg
        flt = {"address": self.client.address, "fromBlock": hex(start), "toBlock": hex(end)}
        return RPCEndpoint("eth_getLogs"), [{**flt, "topics": [["0x" + t.hex() for t in topics]]}]

    def _one(self, kind: str, arg: Any) -> Any:  # eth-tester: web3's own methods and types
        if kind == "number":
            return int(self.w3.eth.block_number)
        if kind == "block":
            try:
                return self._parse(kind, self.w3.eth.get_block(arg))
            except Web3BlockNotFound:
                return None
        start, end, topics = arg
        flt: Any = {"address": self.client.address, "fromBlock": start, "toBlock": end, "topics": [list(topics)]}
        return self._parse(kind, self.w3.eth.get_logs(flt))

    @staticmethod
    def _parse(kind: str, raw: Any) -> Any:
        if kind == "number":
            return _n(raw)
        if kind == "block":
            return None if raw is None else Block(_n(raw["number"]), _b(raw["hash"]), _n(raw["timestamp"]))
        return [
            Log(
                _n(r["blockNumber"]),
                _b(r["blockHash"]),
                _b(r["transactionHash"]),
                tuple(map(_b, r["topics"])),
                _b(r["data"]),
            )
            for r in raw
        ]
