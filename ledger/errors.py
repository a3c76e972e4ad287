"""Errors of ledger/: documents, Merkle proofs, the chain and anchoring."""

from __future__ import annotations

from typing import ClassVar

from keys.errors import InvalidInput, XacthucError


class LedgerError(XacthucError):
    """A ledger operation failed."""

    code = "LEDGER_ERROR"
    http_status = 500


def _hex(value: bytes | None) -> str:
    return "0x" + value.hex() if value is not None else "none"


class DocumentFieldInvalid(InvalidInput):
    """A field of a document, its receipt or its anchor proof is invalid (a 422 naming the field)."""

    code = "DOC_FIELD_INVALID"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "field": self.field}


# --- Merkle trees and proofs -------------------------------------------------------------------------------------


class MerkleInputError(LedgerError, ValueError):
    """Malformed Merkle input: leaf data and proof nodes are exactly 32 bytes."""

    code = "MERKLE_INVALID_INPUT"
    http_status = 422


class EmptyMerkleTree(MerkleInputError):
    """A Merkle tree needs at least one leaf."""

    code = "MERKLE_EMPTY_TREE"


class ProofTooLong(MerkleInputError):
    """A Merkle proof has more nodes than any tree of at most 2**64 leaves needs."""

    code = "MERKLE_PROOF_TOO_LONG"

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"Merkle proof has {length} nodes; at most {limit} are allowed")


# --- The chain ---------------------------------------------------------------------------------------------------


class ChainUnavailable(LedgerError):
    """The Ethereum node could not be reached."""

    code = "CHAIN_UNAVAILABLE"
    http_status = 503


class RpcChainMismatch(LedgerError):
    """The Ethereum RPC endpoints serve different chains: give endpoints of one chain only.

    ``chain_ids``: each endpoint that answered (its URL with credentials redacted) and its chain id. Failing over
    between chains would read and send on the wrong one, so this stops the start.
    """

    code = "RPC_CHAIN_MISMATCH"
    http_status = 503

    def __init__(self, message: str | None = None, *, chain_ids: dict[str, int] | None = None) -> None:
        self.chain_ids = dict(chain_ids or {})
        if message is None and self.chain_ids:
            answers = ", ".join(f"{url} serves chain {chain_id}" for url, chain_id in self.chain_ids.items())
            message = f"the Ethereum RPC endpoints serve different chains ({answers}): give endpoints of one chain"
        super().__init__(message)


class RegistryMissing(LedgerError):
    """The registry this data dir recorded is not on the chain the node serves.

    No code at its address, or another chain id: the node's chain was reset, or it is another node. Outside
    development mode this stops the start.
    """

    code = "REGISTRY_MISSING"
    http_status = 503

    def __init__(self, message: str, *, address: str, chain_id: int) -> None:
        self.address = address
        self.chain_id = chain_id
        super().__init__(message)


class RegistryOutdated(LedgerError):
    """The registry on chain is another build of DocumentRegistry: deploy the current one (`xacthuc chain deploy`).

    Its code differs from this build's artefact: an older one lacks ``anchorFor``/``revokeFor``, which the city's
    relayer account needs. Outside development mode this stops the start: the operator deploys the current
    registry; nothing is redeployed silently.
    """

    code = "REGISTRY_OUTDATED"
    http_status = 503

    def __init__(self, message: str, *, address: str, chain_id: int) -> None:
        self.address = address
        self.chain_id = chain_id
        super().__init__(message)


class AnchorAccountUnfunded(LedgerError):
    """The account that sends anchoring transactions (the city's relayer) cannot pay for one: fund it.

    Nothing is sent meanwhile; documents wait unanchored and go out once it is funded, without a restart."""

    code = "ANCHOR_ACCOUNT_UNFUNDED"
    http_status = 503

    def __init__(self, account: str, balance: int, needed: int, *, role: str = "relayer") -> None:
        self.account = account
        self.balance = balance
        self.needed = needed
        self.role = role
        super().__init__(
            f"the anchoring account {account} ({role}) holds {balance} wei, less than one anchor may cost"
            f" ({needed} wei): documents wait unanchored until it is funded; send it ether (at least {needed} wei,"
            " better enough for many batches) and the waiting batches go out without a restart"
        )

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "account": self.account}


class ChainInputError(LedgerError, ValueError):
    """A chain call got malformed input (a root or data not 32 bytes, a count out of range)."""

    code = "CHAIN_INVALID_INPUT"
    http_status = 422


class BlockNotFound(LedgerError, LookupError):
    """The node does not know the block."""

    code = "BLOCK_NOT_FOUND"
    http_status = 404

    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"block {number} not found")


class TransactionRejected(LedgerError):
    """The node refused a signed transaction (nonce too low, fee too low, insufficient funds, ...)."""

    code = "TX_REJECTED"
    http_status = 502

    def __init__(self, tx_hash: bytes, reason: str) -> None:
        self.tx_hash = tx_hash
        self.reason = reason
        super().__init__(f"the node refused transaction {_hex(tx_hash)}: {reason}")


class RegistryArtifactError(LedgerError):
    """The compiled DocumentRegistry artefact is missing or malformed."""

    code = "REGISTRY_ARTIFACT_INVALID"


class TransactionTimeout(LedgerError):
    """A transaction was not mined before the deadline."""

    code = "TX_TIMEOUT"
    http_status = 504

    def __init__(self, tx_hash: bytes, timeout: float) -> None:
        self.tx_hash = tx_hash
        self.timeout = timeout
        super().__init__(f"transaction {_hex(tx_hash)} not mined within {timeout:g} s")


class RegistryRevert(LedgerError):
    """The DocumentRegistry contract refused the call.

    Each leaf mirrors one Solidity custom error (``solidity_error``). ``tx_hash`` is set when the revert comes from
    a mined transaction (receipt status 0), and None when a simulation caught it before sending.
    """

    code = "REGISTRY_REVERTED"
    http_status = 422
    solidity_error: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, tx_hash: bytes | None = None) -> None:
        self.tx_hash = tx_hash
        super().__init__(message)


class UnknownRevert(RegistryRevert):
    """The transaction reverted for a reason the registry's ABI does not describe."""

    code = "REGISTRY_REVERTED_UNKNOWN"
    http_status = 500

    def __init__(self, revert_data: bytes | None, *, tx_hash: bytes | None = None) -> None:
        self.revert_data = revert_data
        super().__init__(f"transaction reverted (revert data {_hex(revert_data)})", tx_hash=tx_hash)


class ZeroRoot(RegistryRevert):
    """The zero hash cannot be anchored."""

    code = "ANCHOR_ZERO_ROOT"
    solidity_error = "ZeroRoot"

    def __init__(self, *, tx_hash: bytes | None = None) -> None:
        super().__init__(tx_hash=tx_hash)


class EmptyBatch(RegistryRevert):
    """A batch of zero documents cannot be anchored."""

    code = "ANCHOR_EMPTY_BATCH"
    solidity_error = "EmptyBatch"

    def __init__(self, *, tx_hash: bytes | None = None) -> None:
        super().__init__(tx_hash=tx_hash)


class RootAlreadyAnchored(RegistryRevert):
    """The agency has already anchored this Merkle root."""

    code = "ROOT_ALREADY_ANCHORED"
    http_status = 409
    solidity_error = "RootAlreadyAnchored"

    def __init__(self, agency: str, root: bytes, *, tx_hash: bytes | None = None) -> None:
        self.agency = agency
        self.root = root
        super().__init__(f"{agency} has already anchored root {_hex(root)}", tx_hash=tx_hash)


class RootNotAnchored(RegistryRevert):
    """The agency has not anchored this Merkle root."""

    code = "ROOT_NOT_ANCHORED"
    http_status = 404
    solidity_error = "RootNotAnchored"

    def __init__(self, agency: str, root: bytes, *, tx_hash: bytes | None = None) -> None:
        self.agency = agency
        self.root = root
        super().__init__(f"{agency} has not anchored root {_hex(root)}", tx_hash=tx_hash)


class NotAnchorer(RegistryRevert):
    """Only the account that anchored a root, or the city admin, may revoke its documents."""

    code = "NOT_ANCHORER"
    http_status = 403
    solidity_error = "NotAnchorer"

    def __init__(self, agency: str, caller: str, *, tx_hash: bytes | None = None) -> None:
        self.agency = agency
        self.caller = caller
        super().__init__(f"{caller} is neither {agency}, which anchored the root, nor the admin", tx_hash=tx_hash)


class InvalidProof(RegistryRevert):
    """The Merkle proof does not prove the document under the root."""

    code = "INVALID_PROOF"
    solidity_error = "InvalidProof"

    def __init__(self, root: bytes, data: bytes, *, tx_hash: bytes | None = None) -> None:
        self.root = root
        self.data = data
        super().__init__(f"the proof does not prove {_hex(data)} under root {_hex(root)}", tx_hash=tx_hash)


class AlreadyRevoked(RegistryRevert):
    """The document is already revoked."""

    code = "ALREADY_REVOKED"
    http_status = 409
    solidity_error = "AlreadyRevoked"

    def __init__(self, agency: str, root: bytes, data: bytes, *, tx_hash: bytes | None = None) -> None:
        self.agency = agency
        self.root = root
        self.data = data
        super().__init__(f"{_hex(data)} under root {_hex(root)} of {agency} is already revoked", tx_hash=tx_hash)


class InvalidReason(RegistryRevert):
    """The revocation reason is not 1-4, or a replacement was given with a reason other than 2 (replaced)."""

    code = "INVALID_REVOCATION_REASON"
    solidity_error = "InvalidReason"

    def __init__(self, reason: int, *, tx_hash: bytes | None = None) -> None:
        self.reason = reason
        super().__init__(
            f"revocation reason {reason} is invalid (1 annulled, 2 replaced, 3 error, 4 other;"
            " a replacement requires 2)",
            tx_hash=tx_hash,
        )


class BadSignature(RegistryRevert):
    """The EIP-712 signature sent with anchorFor or revokeFor is not the agency's.

    Signed by another key, for another chain or registry, a malleable high-s twin, or malformed."""

    code = "BAD_SIGNATURE"
    http_status = 403
    solidity_error = "BadSignature"

    def __init__(self, agency: str, *, tx_hash: bytes | None = None) -> None:
        self.agency = agency
        super().__init__(f"the signature is not {agency}'s authorisation of this call", tx_hash=tx_hash)
