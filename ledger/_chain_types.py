"""The values the chain client returns: plain frozen records, no web3 types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import NamedTuple

__all__ = [
    "AnchorRecord",
    "AnchorResult",
    "BlockInfo",
    "DocumentStatus",
    "Fees",
    "Receipt",
    "RevocationReason",
    "SignedTx",
]


class RevocationReason(IntEnum):
    """Why a document was revoked (the contract's reason codes)."""

    ANNULLED = 1
    REPLACED = 2
    ERROR = 3
    OTHER = 4


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
class Receipt:
    """The part of a transaction receipt the ledger uses."""

    tx_hash: bytes
    status: int
    block_number: int
    block_hash: bytes
    gas_used: int

    @property
    def ok(self) -> bool:
        return self.status == 1


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


@dataclass(frozen=True)
class DocumentStatus:
    """Everything a verifier needs about one document under one agency's root (one ``eth_call``)."""

    agency: str | None  # the agency asked about, if it anchored the root; None otherwise (whoever else did)
    anchored_at: datetime | None
    reason: RevocationReason | None
    revoked_at: datetime | None
    replaced_by: bytes | None

    @property
    def anchored(self) -> bool:
        return self.agency is not None

    @property
    def revoked(self) -> bool:
        return self.reason is not None


class BlockInfo(NamedTuple):
    """A block's hash and time (UTC)."""

    hash: bytes
    timestamp: datetime
