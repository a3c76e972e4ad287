"""The values the chain client returns: plain frozen records, no web3 types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["AnchorRecord", "AnchorResult", "BlockInfo", "Fees", "SignedTx", "TxReceipt"]


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps in wei."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction, ready to persist and (re)broadcast: the same bytes always have the same hash."""

    raw: bytes
    tx_hash: bytes
    nonce: int


@dataclass(frozen=True)
class TxReceipt:
    """The part of a transaction receipt the ledger uses (a document's signed receipt is
    ``ledger.documents.receipt.Receipt``)."""

    tx_hash: bytes
    status: int
    block_number: int
    block_hash: bytes
    gas_used: int

    @property
    def ok(self) -> bool:
        return self.status == 1

    @classmethod
    def from_web3(cls, raw: Mapping[str, Any]) -> TxReceipt:
        """From web3's receipt (bytes and ints)."""
        return cls(
            tx_hash=bytes(raw["transactionHash"]),
            status=int(raw["status"]),
            block_number=int(raw["blockNumber"]),
            block_hash=bytes(raw["blockHash"]),
            gas_used=int(raw["gasUsed"]),
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TxReceipt:
        """From a JSON-RPC answer (0x-prefixed hex strings)."""
        return cls(
            tx_hash=bytes.fromhex(raw["transactionHash"][2:]),
            status=int(raw["status"], 16),
            block_number=int(raw["blockNumber"], 16),
            block_hash=bytes.fromhex(raw["blockHash"][2:]),
            gas_used=int(raw["gasUsed"], 16),
        )


@dataclass(frozen=True)
class AnchorRecord:
    """What the registry recorded for a root an agency anchored."""

    agency: str
    anchored_at: datetime
    count: int


@dataclass(frozen=True)
class AnchorResult:
    """The outcome of ``RegistryClient.anchor``: the record, and the transaction that made it when known."""

    root: bytes
    record: AnchorRecord
    tx_hash: bytes | None
    block_number: int | None
    already_anchored: bool


class BlockInfo(NamedTuple):
    """A block's hash and time (UTC)."""

    hash: bytes
    timestamp: datetime
