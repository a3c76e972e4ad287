"""What a verifier needs from the anchoring side: a document's anchor proof and the registry's status answer.

The shapes are fixed here so the verifier can be written (and tested with in-memory fakes) without a chain. Two
readers implement :class:`ChainStatusReader`: ``ledger.chain.reader.RegistryReader`` (and so the chain client) with
one ``eth_call`` of ``status(agency, root, data)``, and ``ledger.chain.index.IndexedStatusReader`` from the chain index.
The registry keys anchors by agency and root, so a verifier asks about the issuer's own account (the trust list's
``eth_address``): another account's anchor of the same root reads as "not anchored".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Protocol

from ledger.chain.merkle import compute_root
from ledger.errors import DocumentFieldInvalid

__all__ = ["ChainStatusReader", "DocumentChainStatus", "Proof", "RevocationReason", "proof_root", "reason_of"]

_ZERO32 = bytes(32)


class RevocationReason(IntEnum):
    """The registry's reason codes (``status(...).reason``, ``revoke(..., reason, ...)``); NONE: not revoked.

    The API and the database name them in lower case (``annulled``): ``ledger.documents.issuing.REASONS``.
    """

    NONE = 0
    ANNULLED = 1
    REPLACED = 2
    ERROR = 3
    OTHER = 4


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(value: Any, field: str, size: int | None = 32) -> bytes:
    if not isinstance(value, str):
        raise DocumentFieldInvalid(field, "must be a 0x-prefixed hex string")
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise DocumentFieldInvalid(field, "must be a 0x-prefixed hex string") from None
    if size is not None and len(raw) != size:
        raise DocumentFieldInvalid(field, f"must be {size} bytes")
    return raw


@dataclass(frozen=True)
class Proof:
    """A document's anchor: the Merkle ``path`` from its ``leaf`` data (the receipt commitment) to ``root``,
    and where and when that root was anchored. JSON form: ARCHITECTURE.md, ``proof``."""

    root: bytes
    path: tuple[bytes, ...]
    leaf: bytes  # the leaf DATA (ledger.documents.receipt.commitment), not its leaf hash
    chain_id: int
    contract: str  # 0x-prefixed address
    tx_hash: str  # 0x-prefixed
    block: int
    anchored_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": _hex(self.root),
            "path": [_hex(p) for p in self.path],
            "leaf": _hex(self.leaf),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "anchored_at": self.anchored_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Proof:
        """Parse the JSON form; malformed fields are 422 errors naming the field."""
        path = d.get("path")
        if not isinstance(path, Sequence) or isinstance(path, str) or len(path) > 64:
            raise DocumentFieldInvalid("proof.path", "must be a list of at most 64 hashes")
        chain_id, block = d.get("chain_id"), d.get("block")
        if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0:
            raise DocumentFieldInvalid("proof.chain_id", "must be a positive integer")
        if not isinstance(block, int) or isinstance(block, bool) or block < 0:
            raise DocumentFieldInvalid("proof.block", "must be a non-negative integer")
        try:
            anchored_at = datetime.fromisoformat(str(d.get("anchored_at")).replace("Z", "+00:00"))
        except ValueError:
            raise DocumentFieldInvalid("proof.anchored_at", "must be an ISO 8601 time") from None
        if anchored_at.tzinfo is None:
            raise DocumentFieldInvalid("proof.anchored_at", "must carry a time zone")
        return cls(
            root=_unhex(d.get("root"), "proof.root"),
            path=tuple(_unhex(p, "proof.path") for p in path),
            leaf=_unhex(d.get("leaf"), "proof.leaf"),
            chain_id=chain_id,
            contract=_hex(_unhex(d.get("contract"), "proof.contract", 20)),
            tx_hash=_hex(_unhex(d.get("tx_hash"), "proof.tx_hash")),
            block=block,
            anchored_at=anchored_at,
        )


def proof_root(proof: Proof) -> bytes:
    """The root the proof's path leads to from its leaf (compare with ``proof.root``)."""
    return compute_root(proof.leaf, proof.path)


def reason_of(code: int) -> int:
    """The reason code as a :class:`RevocationReason` member when it is one (an unknown code stays a plain int)."""
    try:
        return RevocationReason(code)
    except ValueError:
        return code


@dataclass(frozen=True)
class DocumentChainStatus:
    """The registry's answer to ``status(agency, root, data)``, however it was read (the chain, the index, a
    bundle). ``anchorer`` is None when that agency has not anchored the root (whoever else has)."""

    anchorer: str | None  # 0x-prefixed address of the agency asked about, when it anchored the root
    anchored_at: datetime | None
    reason: int = RevocationReason.NONE  # a RevocationReason member, unless the code is unknown to this build
    revoked_at: datetime | None = None
    replaced_by: bytes | None = None  # the replacement's leaf data

    @property
    def anchored(self) -> bool:
        return self.anchorer is not None

    @property
    def revoked(self) -> bool:
        return self.reason != RevocationReason.NONE

    @classmethod
    def from_call(
        cls, agency: str, anchored_at: int, reason: int, revoked_at: int, replaced_by: bytes
    ) -> DocumentChainStatus:
        """From the agency asked about and the raw ``eth_call`` tuple: zero times and a zero hash mean "none"."""
        return cls(
            anchorer=agency if anchored_at else None,
            anchored_at=datetime.fromtimestamp(anchored_at, UTC) if anchored_at else None,
            reason=reason_of(reason),
            revoked_at=datetime.fromtimestamp(revoked_at, UTC) if revoked_at else None,
            replaced_by=None if bytes(replaced_by) == _ZERO32 else bytes(replaced_by),
        )


class ChainStatusReader(Protocol):
    """Reads the registry. May raise on network failure; the verifier reports that as ``error``, never ``valid``.

    ``status(agency, root, data)``: the state of document ``data`` under the root ``agency`` (a 0x address)
    anchored; a root anchored only by other accounts is not anchored as far as ``agency`` is concerned.
    """

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus: ...
