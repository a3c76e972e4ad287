"""The EIP-712 messages an agency signs so that another account (the city's relayer) may send its anchor or its
revocation: ``Anchor(bytes32 root,uint32 count)`` and ``Revoke(bytes32 root,bytes32 data,uint8 reason,bytes32
replacedBy)`` in the domain {name "xacthuc DocumentRegistry", version "1", chainId, verifyingContract}.

The contract (``anchorFor``, ``revokeFor``) recovers the signer and records under it; the encoding is eth_account's
(``sign_typed_data``), and ``tests/contracts/test_relayed.py`` holds it equal to the contract's digest.
"""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address

from ledger.chain._args import ZERO32, batch_count, bytes32, reason_code

__all__ = ["DOMAIN_NAME", "DOMAIN_VERSION", "anchor_message", "revoke_message", "sign_typed", "signing_digest"]

DOMAIN_NAME = "xacthuc DocumentRegistry"
DOMAIN_VERSION = "1"

_ANCHOR = {"Anchor": [{"name": "root", "type": "bytes32"}, {"name": "count", "type": "uint32"}]}
_REVOKE = {
    "Revoke": [
        {"name": "root", "type": "bytes32"},
        {"name": "data", "type": "bytes32"},
        {"name": "reason", "type": "uint8"},
        {"name": "replacedBy", "type": "bytes32"},
    ]
}

Message = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]  # domain, types, message


def _domain(chain_id: int, contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }


def anchor_message(chain_id: int, contract: str, root: bytes, count: int) -> Message:
    """The typed ``Anchor`` message authorising ``anchorFor(agency, root, count, ...)`` on this registry."""
    return _domain(chain_id, contract), _ANCHOR, {"root": bytes32(root, "root"), "count": batch_count(count)}


def revoke_message(
    chain_id: int, contract: str, root: bytes, data: bytes, reason: int, replaced_by: bytes | None
) -> Message:
    """The typed ``Revoke`` message authorising ``revokeFor(agency, root, data, proof, reason, replacedBy, ...)``."""
    message = {
        "root": bytes32(root, "root"),
        "data": bytes32(data, "data"),
        "reason": reason_code(reason),
        "replacedBy": ZERO32 if replaced_by is None else bytes32(replaced_by, "replaced_by"),
    }
    return _domain(chain_id, contract), _REVOKE, message


def sign_typed(account: Any, message: Message) -> bytes:
    """The agency's 65-byte signature (r ‖ s ‖ v, v 27 or 28, low s) of a typed message."""
    domain, types, values = message
    signed = account.sign_typed_data(domain, types, values)
    return bytes(signed.signature)


def signing_digest(message: Message) -> bytes:
    """The 32-byte EIP-712 digest the contract recovers the signer from (``keccak256(0x1901 ‖ domain ‖ struct)``)."""
    from eth_utils.crypto import keccak

    domain, types, values = message
    signable = encode_typed_data(domain, types, values)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))
