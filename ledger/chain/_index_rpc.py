"""The raw chain reads of the chain index: block heads and registry logs, over HTTP in one JSON-RPC batch
(``ledger.chain._jsonrpc.batch``, the chain package's one batch path).

JSON-RPC answers (hex strings) and web3's own types (eth-tester) become the same small records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.exceptions import BlockNotFound as Web3BlockNotFound

from ledger.chain._jsonrpc import Request, batch, transport_errors
from ledger.chain.reader import RegistryReader


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

    def __init__(self, reader: RegistryReader) -> None:
        self.reader = reader
        self.w3 = reader.w3

    def calls(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        """Results of ``(method, arg)`` calls: ``("number", None)``, ``("block", n)``, ``("logs", (a, b, topic0s))``."""
        raw = batch(self.w3, [self._request(kind, arg) for kind, arg in calls])
        if raw is None:
            with transport_errors():
                return [self._one(kind, arg) for kind, arg in calls]
        return [self._parse(kind, result) for (kind, _), result in zip(calls, raw, strict=True)]

    def _request(self, kind: str, arg: Any) -> Request:
        if kind == "number":
            return "eth_blockNumber", []
        if kind == "block":
            return "eth_getBlockByNumber", [hex(arg), False]
        start, end, topics = arg
        flt = {"address": self.reader.address, "fromBlock": hex(start), "toBlock": hex(end)}
        return "eth_getLogs", [{**flt, "topics": [["0x" + t.hex() for t in topics]]}]

    def _one(self, kind: str, arg: Any) -> Any:  # eth-tester: web3's own methods and types
        if kind == "number":
            return int(self.w3.eth.block_number)
        if kind == "block":
            try:
                return self._parse(kind, self.w3.eth.get_block(arg))
            except Web3BlockNotFound:
                return None
        start, end, topics = arg
        flt: Any = {"address": self.reader.address, "fromBlock": start, "toBlock": end, "topics": [list(topics)]}
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
