"""Checks of the registry's call arguments before they are encoded: a bad one is ``ChainInputError``, never a revert."""

from __future__ import annotations

from collections.abc import Sequence

from eth_typing import ChecksumAddress
from web3 import Web3

from ledger.chain.merkle import MAX_PROOF_LENGTH
from ledger.errors import ChainInputError

__all__ = ["ZERO32", "agency_address", "batch_count", "bytes32", "proof_nodes", "reason_code"]

ZERO32 = bytes(32)


def bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ChainInputError(f"{what} must be 32 bytes")
    return bytes(value)


def agency_address(value: str) -> ChecksumAddress:
    try:
        return Web3.to_checksum_address(value)
    except (TypeError, ValueError):
        raise ChainInputError("an agency must be a 20-byte hex address") from None


def batch_count(count: int) -> int:
    if not 0 <= count < 2**32:
        raise ChainInputError(f"batch size {count} does not fit a uint32")
    return count


def proof_nodes(proof: Sequence[bytes]) -> list[bytes]:
    if len(proof) > MAX_PROOF_LENGTH:
        raise ChainInputError(f"a proof has at most {MAX_PROOF_LENGTH} nodes, not {len(proof)}")
    return [bytes32(node, "proof node") for node in proof]


def reason_code(reason: int) -> int:
    if not 0 <= reason <= 255:
        raise ChainInputError(f"revocation reason {reason} is not a uint8")
    return reason
