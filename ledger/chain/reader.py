"""Reading the DocumentRegistry and its chain over an injected ``Web3``: views, events, blocks and receipts.

No account and no transaction here (``ledger.chain.client.RegistryClient`` adds them), so a third party that only
verifies needs nothing but an RPC URL and the registry's address. :class:`RegistryReader` is the direct
``ledger.chain.proof.ChainStatusReader`` (one ``eth_call`` per answer); ``ledger.chain.index.IndexedStatusReader``
answers the same question from the chain index and falls back to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import BlockNotFound as Web3BlockNotFound
from web3.exceptions import TransactionNotFound

from ledger.chain._abi import is_revert_exception, load_artifact
from ledger.chain._args import ZERO32, agency_address, bytes32, proof_nodes
from ledger.chain._jsonrpc import batch, http_provider, request, transport_errors
from ledger.chain.proof import DocumentChainStatus
from ledger.chain.types import AnchorRecord, BlockInfo, TxReceipt
from ledger.errors import BlockNotFound, ChainUnavailable

__all__ = ["RegistryReader"]


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class RegistryReader:
    """The DocumentRegistry at ``address``, read through ``w3``; ``from_block``: its deployment block, where log
    searches start."""

    def __init__(self, w3: Web3, address: str, *, from_block: int = 0) -> None:
        self.w3 = w3
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self.from_block = from_block
        self.artifact = load_artifact()
        self._chain_id: int | None = None

    # --- Chain facts --------------------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            with transport_errors():
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def block_number(self) -> int:
        with transport_errors():
            return int(self.w3.eth.block_number)

    def block(self, number: int) -> BlockInfo:
        """The hash and time of block ``number``."""
        try:
            with transport_errors():
                block = self.w3.eth.get_block(number)
        except Web3BlockNotFound as exc:
            raise BlockNotFound(number) from exc
        return BlockInfo(bytes(block["hash"]), _utc(int(block["timestamp"])))

    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockInfo]:
        """``block`` for many block numbers in one round trip."""
        wanted = sorted(set(numbers))
        raw = batch(self.w3, [("eth_getBlockByNumber", [hex(n), False]) for n in wanted])
        if raw is None:
            return {n: self.block(n) for n in wanted}
        out: dict[int, BlockInfo] = {}
        for n, block in zip(wanted, raw, strict=True):
            if block is None:
                raise BlockNotFound(n)
            out[n] = BlockInfo(bytes.fromhex(block["hash"][2:]), _utc(int(block["timestamp"], 16)))
        return out

    def pending_nonce(self, address: str) -> int:
        """The next nonce of ``address``, counting its pending transactions."""
        with transport_errors():
            return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    # --- Transactions and their receipts ------------------------------------------------------------------------

    def get_receipt(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt of a mined transaction, or None while it is pending or unknown."""
        try:
            with transport_errors():
                raw = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        return TxReceipt.from_web3(raw)

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[TxReceipt | None]:
        """``get_receipt`` for many transactions in one round trip."""
        raw = batch(self.w3, [("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in tx_hashes])
        if raw is None:
            return [self.get_receipt(h) for h in tx_hashes]
        return [None if r is None else TxReceipt.from_json(r) for r in raw]

    def transaction_known(self, tx_hash: bytes) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            with transport_errors():
                self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    # --- The registry's views -----------------------------------------------------------------------------------

    def anchor_record(self, agency: str, root: bytes) -> AnchorRecord | None:
        """When ``agency`` anchored ``root``, and its batch size; None when that agency has not anchored it.

        Anchors are keyed by agency and root: another account's anchor of the same root is never returned.
        """
        agency = agency_address(agency)
        anchored_at, count = self._view("anchors", agency, bytes32(root, "root"))
        if count == 0:
            return None
        return AnchorRecord(agency, _utc(anchored_at), count)

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        """The state of document ``data`` under the root ``agency`` anchored; the proof is not checked.

        ``anchorer`` is None when ``agency`` has not anchored ``root``, whoever else has. Over HTTP the ``eth_call``
        is one bare JSON-RPC request: through ``w3.eth.call`` web3's validation middleware adds an ``eth_chainId``
        round trip or two, which tripled the verification time.
        """
        agency = agency_address(agency)
        encoded = self.artifact.encode_call("status", agency, bytes32(root, "root"), bytes32(data, "data"))
        provider = http_provider(self.w3)
        if provider is None:
            out = self._call(encoded)
        else:
            result = request(provider, "eth_call", [{"to": self.address, "data": "0x" + encoded.hex()}, "latest"])
            if not isinstance(result, str):
                raise ChainUnavailable("the Ethereum node answered eth_call without a result")
            out = bytes.fromhex(result.removeprefix("0x"))
        return DocumentChainStatus.from_call(agency, *self.artifact.decode_output("status", out))

    def verify_proof_on_chain(self, root: bytes, data: bytes, proof: Sequence[bytes]) -> bool:
        """The contract's own proof check (``verifyProof``), for cross-checking the Python implementation."""
        (ok,) = self._view("verifyProof", bytes32(root, "root"), bytes32(data, "data"), proof_nodes(proof))
        return bool(ok)

    def admin(self) -> str:
        (admin,) = self._view("admin")
        return Web3.to_checksum_address(admin)

    def has_current_interface(self) -> bool:
        """Whether the contract at ``address`` answers this build's ``status(agency, root, data)``: False for an
        address without code and for a registry deployed from an older build (keyed by root alone), whose anchors
        this client can neither read nor trust. Transport failures raise ChainUnavailable."""
        try:
            self._view("status", "0x" + "00" * 20, ZERO32, ZERO32)
        except ChainUnavailable:
            raise
        except Exception as exc:  # a revert (unknown selector), or no output to decode (no code)
            if is_revert_exception(exc) or isinstance(exc, DecodingError):
                return False
            raise
        return True

    def is_current_build(self) -> bool:
        """Whether the code at ``address`` is this build's registry (``eth_getCode`` against the artefact, the
        immutables masked): False for an address without code and for a registry from another build (one without
        ``anchorFor``, say). Transport failures raise ChainUnavailable."""
        with transport_errors():
            code = bytes(self.w3.eth.get_code(self.address))
        return self.artifact.is_deployed_code(code)

    # --- Events ---------------------------------------------------------------------------------------------------

    def find_anchor_tx(self, agency: str, root: bytes) -> bytes | None:
        """The hash of the transaction in which ``agency`` anchored ``root`` (from its Anchored event), or None."""
        return self._find_tx("Anchored", agency, bytes32(root, "root"))

    def find_revoke_tx(self, agency: str, root: bytes, data: bytes) -> bytes | None:
        """The hash of the transaction that revoked document ``data`` under ``agency``'s ``root`` (its Revoked
        event: sent by the agency or by the city admin), or None."""
        return self._find_tx("Revoked", agency, bytes32(root, "root"), bytes32(data, "data"))

    def _find_tx(self, event: str, agency: str, *keys: bytes) -> bytes | None:
        topic_agency = bytes(12) + bytes.fromhex(agency_address(agency)[2:])
        topics: list[Any] = [self.artifact.event_topic(event), topic_agency, *keys]
        with transport_errors():
            logs = self.w3.eth.get_logs(
                {"address": self.address, "topics": topics, "fromBlock": self.from_block, "toBlock": "latest"}
            )
        return bytes(logs[0]["transactionHash"]) if logs else None

    def _view(self, name: str, *args: Any) -> tuple[Any, ...]:
        return self.artifact.decode_output(name, self._call(self.artifact.encode_call(name, *args)))

    def _call(self, data: bytes) -> bytes:
        with transport_errors():
            return bytes(self.w3.eth.call({"to": self.address, "data": data}))
