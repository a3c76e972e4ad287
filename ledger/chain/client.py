"""The chain seam: a small client for the DocumentRegistry contract over an injected ``Web3``.

eth-tester in unit tests, anvil in integration tests, any JSON-RPC node in production. Transactions are signed
locally with explicit nonces and fixed gas limits, and each step (sign, send, receipt) is a separate call so an
outbox can persist between them. With a fixed gas limit a reverted transaction is mined with status 0 and nothing
is raised, so every receipt is checked and a failed one is replayed with ``eth_call`` to recover the typed error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound as Web3BlockNotFound
from web3.exceptions import ProviderConnectionError, TransactionNotFound, Web3RPCError
from web3.types import RPCEndpoint

from ledger.chain._abi import decode_revert, is_revert_exception, load_artifact, revert_data_from_exception
from ledger.chain._rpcurl import redact_rpc_url
from ledger.chain.merkle import MAX_PROOF_LENGTH, keccak256
from ledger.chain.types import (
    AnchorRecord,
    AnchorResult,
    BlockInfo,
    DocumentStatus,
    Fees,
    Receipt,
    RevocationReason,
    SignedTx,
)
from ledger.errors import (
    BlockNotFound,
    ChainInputError,
    ChainUnavailable,
    RegistryRevert,
    RootAlreadyAnchored,
    TransactionRejected,
    TransactionTimeout,
    UnknownRevert,
)

__all__ = [
    "ANCHOR_GAS_LIMIT",
    "DEPLOY_GAS_LIMIT",
    "AnchorRecord",
    "AnchorResult",
    "BlockInfo",
    "DocumentStatus",
    "Fees",
    "Receipt",
    "RegistryClient",
    "RevocationReason",
    "SignedTx",
    "redact_rpc_url",
    "revoke_gas_limit",
]

#: anchor costs about 46,000 gas whatever the batch size; the margin covers calldata variation and repricing.
ANCHOR_GAS_LIMIT = 80_000
#: Deployment costs about 480,000 gas (viaIR, optimizer runs 1,000,000).
DEPLOY_GAS_LIMIT = 800_000
DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei
ZERO32 = bytes(32)


def revoke_gas_limit(proof_length: int) -> int:
    """The fixed gas limit of a revoke with a proof of ``proof_length`` nodes (with a replacement stored)."""
    # Measured: about 76,000 with a replacement and 1 node, plus about 700 per further node (calldata + hashing).
    return 110_000 + 1_000 * proof_length


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ChainInputError(f"{what} must be 32 bytes")
    return bytes(value)


def _address(value: str) -> ChecksumAddress:
    try:
        return Web3.to_checksum_address(value)
    except (TypeError, ValueError):
        raise ChainInputError("an agency must be a 20-byte hex address") from None


@contextmanager
def _rpc() -> Iterator[None]:
    """Turns transport failures into ChainUnavailable; contract reverts and RPC errors pass through."""
    try:
        yield
    except (OSError, ProviderConnectionError) as exc:  # requests' errors are OSErrors
        raise ChainUnavailable(f"the Ethereum node is unreachable: {type(exc).__name__}") from exc


class RegistryClient:
    """The DocumentRegistry at ``address``, reached through ``w3``."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        *,
        from_block: int = 0,
        priority_fee: int = DEFAULT_PRIORITY_FEE,
        poll_interval: float = 0.05,
    ) -> None:
        self.w3 = w3
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self.from_block = from_block  # where log searches start: the deployment block
        self.priority_fee = priority_fee
        self.poll_interval = poll_interval
        self.artifact = load_artifact()
        self._chain_id: int | None = None

    @classmethod
    def deploy(
        cls, w3: Web3, deployer: LocalAccount, admin: str, *, timeout: float = 60.0, **kwargs: Any
    ) -> RegistryClient:
        """Deploys a new registry whose city admin is ``admin`` and waits for it."""
        client = cls(w3, "0x" + "00" * 20, **kwargs)
        tx = {
            "data": client.artifact.encode_deploy(Web3.to_checksum_address(admin)),
            "gas": DEPLOY_GAS_LIMIT,
        }
        signed = client._sign(deployer, tx, client.pending_nonce(deployer.address), None)
        client.send_raw(signed.raw)
        client.wait_for_receipt(signed.tx_hash, timeout=timeout)
        with _rpc():
            raw_receipt = w3.eth.get_transaction_receipt(signed.tx_hash)  # type: ignore[arg-type]
        receipt = _receipt(raw_receipt)
        if not receipt.ok or raw_receipt["contractAddress"] is None:
            raise UnknownRevert(None, tx_hash=signed.tx_hash)
        return cls(w3, raw_receipt["contractAddress"], from_block=receipt.block_number, **kwargs)

    # --- Chain facts --------------------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            with _rpc():
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def block_number(self) -> int:
        with _rpc():
            return int(self.w3.eth.block_number)

    def block(self, number: int) -> BlockInfo:
        """The hash and time of block ``number``."""
        try:
            with _rpc():
                block = self.w3.eth.get_block(number)
        except Web3BlockNotFound as exc:
            raise BlockNotFound(number) from exc
        return BlockInfo(bytes(block["hash"]), _utc(int(block["timestamp"])))

    def pending_nonce(self, address: str) -> int:
        """The next nonce of ``address``, counting its pending transactions."""
        with _rpc():
            return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    def suggest_fees(self) -> Fees:
        """Fee caps from the latest base fee: twice it (room for six full blocks of rises) plus the tip."""
        with _rpc():
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        return Fees(max_fee_per_gas=2 * base_fee + self.priority_fee, max_priority_fee_per_gas=self.priority_fee)

    # --- Views --------------------------------------------------------------------------------------------------

    def anchor_record(self, agency: str, root: bytes) -> AnchorRecord | None:
        """When ``agency`` anchored ``root``, and its batch size; None when that agency has not anchored it.

        Anchors are keyed by agency and root: another account's anchor of the same root is never returned.
        """
        agency = _address(agency)
        anchored_at, count = self._view("anchors", agency, _bytes32(root, "root"))
        if count == 0:
            return None
        return AnchorRecord(agency, _utc(anchored_at), count)

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentStatus:
        """The state of document ``data`` under the root ``agency`` anchored. The proof is not checked.

        ``anchored`` is False when ``agency`` has not anchored ``root``, whoever else has.
        """
        agency = _address(agency)
        anchored_at, reason, revoked_at, replaced_by = self._view(
            "status", agency, _bytes32(root, "root"), _bytes32(data, "data")
        )
        anchored = anchored_at != 0
        return DocumentStatus(
            agency=agency if anchored else None,
            anchored_at=_utc(anchored_at) if anchored else None,
            reason=RevocationReason(reason) if reason else None,
            revoked_at=_utc(revoked_at) if reason else None,
            replaced_by=bytes(replaced_by) if replaced_by != ZERO32 else None,
        )

    def verify_proof_on_chain(self, root: bytes, data: bytes, proof: Sequence[bytes]) -> bool:
        """The contract's own proof check (``verifyProof``), for cross-checking the Python implementation."""
        (ok,) = self._view("verifyProof", _bytes32(root, "root"), _bytes32(data, "data"), _proof(proof))
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

    def find_anchor_tx(self, agency: str, root: bytes) -> bytes | None:
        """The hash of the transaction in which ``agency`` anchored ``root`` (from its Anchored event), or None."""
        topic_agency = bytes(12) + bytes.fromhex(_address(agency)[2:])
        topics: list[Any] = [self.artifact.event_topic("Anchored"), topic_agency, _bytes32(root, "root")]
        with _rpc():
            logs = self.w3.eth.get_logs(
                {"address": self.address, "topics": topics, "fromBlock": self.from_block, "toBlock": "latest"}
            )
        return bytes(logs[0]["transactionHash"]) if logs else None

    def _view(self, name: str, *args: Any) -> tuple[Any, ...]:
        call = {"to": self.address, "data": self.artifact.encode_call(name, *args)}
        with _rpc():
            out = self.w3.eth.call(call)  # type: ignore[arg-type]
        return self.artifact.decode_output(name, bytes(out))

    # --- Transactions, step by step -------------------------------------------------------------------------------

    def sign_anchor(
        self, account: LocalAccount, root: bytes, count: int, nonce: int, fees: Fees | None = None
    ) -> SignedTx:
        """Signs ``anchor(root, count)`` with ``nonce`` and the fixed gas limit; sends nothing."""
        data = self.artifact.encode_call("anchor", _bytes32(root, "root"), _count(count))
        return self._sign(account, {"to": self.address, "data": data, "gas": ANCHOR_GAS_LIMIT}, nonce, fees)

    def sign_revoke(
        self,
        account: LocalAccount,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        nonce: int,
        fees: Fees | None = None,
        *,
        agency: str | None = None,
    ) -> SignedTx:
        """Signs ``revoke(...)`` with ``nonce`` and a gas limit fixed by the proof length; sends nothing.

        ``agency``: whose anchor ``root`` is; by default the signing account's own (the city admin names it).
        """
        call = self._revoke_calldata(agency or account.address, root, data, proof, reason, replaced_by)
        tx = {"to": self.address, "data": call, "gas": revoke_gas_limit(len(proof))}
        return self._sign(account, tx, nonce, fees)

    def send_raw(self, raw: bytes) -> bytes:
        """Broadcasts a signed transaction; returns its hash. Sending the same bytes again is harmless."""
        tx_hash = keccak256(raw)
        try:
            with _rpc():
                self.w3.eth.send_raw_transaction(raw)
        except (Web3RPCError, ValueError, EthValidationError) as exc:  # the last two: eth-tester's refusals
            # "already known", or "nonce too low" because these very bytes were mined: not an error.
            if self.transaction_known(tx_hash):
                return tx_hash
            raise TransactionRejected(tx_hash, str(exc)) from exc
        return tx_hash

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt of a mined transaction, or None while it is pending or unknown."""
        try:
            with _rpc():
                raw = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        return _receipt(raw)

    # --- Bulk forms: one JSON-RPC batch per call where the provider supports it ---------------------------------

    def _batch(self, method: str, params: Sequence[Sequence[Any]]) -> list[Any] | None:
        """Raw results of one JSON-RPC batch, or None when the provider cannot batch (eth-tester)."""
        provider = self.w3.provider
        if not params or not isinstance(provider, HTTPProvider):
            return None
        with _rpc():
            responses = provider.make_batch_request([(RPCEndpoint(method), list(p)) for p in params])
        if not isinstance(responses, list) or len(responses) != len(params):
            raise ChainUnavailable(f"the node answered a {method} batch incompletely")
        out: list[Any] = []
        for response in responses:
            if "error" in response:
                raise ChainUnavailable(f"{method} failed: {response['error'].get('message', 'error')}")
            out.append(response.get("result"))
        return out

    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        """``get_receipt`` for many transactions in one round trip."""
        raw = self._batch("eth_getTransactionReceipt", [["0x" + h.hex()] for h in tx_hashes])
        if raw is None:
            return [self.get_receipt(h) for h in tx_hashes]
        return [None if r is None else _receipt_from_json(r) for r in raw]

    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockInfo]:
        """``block`` for many block numbers in one round trip."""
        wanted = sorted(set(numbers))
        raw = self._batch("eth_getBlockByNumber", [[hex(n), False] for n in wanted])
        if raw is None:
            return {n: self.block(n) for n in wanted}
        out: dict[int, BlockInfo] = {}
        for n, block in zip(wanted, raw, strict=True):
            if block is None:
                raise BlockNotFound(n)
            out[n] = BlockInfo(bytes.fromhex(block["hash"][2:]), _utc(int(block["timestamp"], 16)))
        return out

    def send_raws(self, raws: Sequence[bytes]) -> None:
        """Broadcasts many signed transactions in one round trip; refusals fall back to ``send_raw`` one by one."""
        provider = self.w3.provider
        if not raws:
            return
        if not isinstance(provider, HTTPProvider):
            for raw in raws:
                self.send_raw(raw)
            return
        with _rpc():
            responses = provider.make_batch_request(
                [(RPCEndpoint("eth_sendRawTransaction"), ["0x" + raw.hex()]) for raw in raws]
            )
        if isinstance(responses, list) and len(responses) == len(raws):
            failed = [raw for raw, response in zip(raws, responses, strict=True) if "error" in response]
        else:
            failed = list(raws)
        for raw in failed:  # the single form tells "already known" from a real refusal, and raises the latter
            self.send_raw(raw)

    def transaction_known(self, tx_hash: bytes) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            with _rpc():
                self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def wait_for_receipt(self, tx_hash: bytes, *, timeout: float = 60.0) -> Receipt:
        """Polls for the receipt until ``timeout`` seconds have passed. Does not check its status."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.get_receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, timeout)
            time.sleep(self.poll_interval)

    def raise_for_status(self, receipt: Receipt) -> Receipt:
        """Returns a successful receipt; for status 0, replays the transaction and raises its typed error."""
        if receipt.ok:
            return receipt
        raise self.revert_reason(receipt)

    def revert_reason(self, receipt: Receipt) -> RegistryRevert:
        """The typed error of a failed transaction, found by replaying it with ``eth_call``.

        Replayed on the parent block's state first (the state the transaction met, but for earlier transactions
        of its own block), then on its block's state (which includes them), then on the latest state for nodes
        that keep no history: the first replay that reverts wins.
        """
        with _rpc():
            tx = self.w3.eth.get_transaction(receipt.tx_hash)  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        blocks: list[int | str] = [max(receipt.block_number - 1, 0), receipt.block_number, "latest"]
        for block in blocks:
            try:
                error = self._simulate(call, block)
            except Web3RPCError:  # a node without that block's state (pruned, or reloaded from a state file)
                continue
            if error is not None:
                error.tx_hash = receipt.tx_hash
                return error
        out_of_gas = receipt.gas_used >= int(tx["gas"])
        error = UnknownRevert(None, tx_hash=receipt.tx_hash)
        if out_of_gas:
            error.message = f"transaction ran out of gas ({receipt.gas_used} used)"
        return error

    def simulate_anchor(self, account_address: str, root: bytes, count: int) -> None:
        """Raises the typed error ``anchor(root, count)`` from this account would revert with, if any."""
        data = self.artifact.encode_call("anchor", _bytes32(root, "root"), _count(count))
        self._raise_simulated({"from": account_address, "to": self.address, "data": data})

    def simulate_revoke(
        self,
        account_address: str,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None = None,
        *,
        agency: str | None = None,
    ) -> None:
        """Raises the typed error ``revoke(...)`` from this account would revert with, if any.

        ``agency``: whose anchor ``root`` is; by default ``account_address`` itself.
        """
        call = self._revoke_calldata(agency or account_address, root, data, proof, reason, replaced_by)
        self._raise_simulated({"from": account_address, "to": self.address, "data": call})

    # --- The revocation outbox's look-up (ledger.chain.anchoring adopts a revocation already on chain) ---

    def find_revoke_tx(self, agency: str, root: bytes, data: bytes) -> bytes | None:
        """The hash of the transaction that revoked document ``data`` under ``agency``'s ``root`` (its Revoked
        event: sent by the agency or by the city admin), or None."""
        topic_agency = bytes(12) + bytes.fromhex(_address(agency)[2:])
        topics: list[Any] = [
            self.artifact.event_topic("Revoked"),
            topic_agency,
            _bytes32(root, "root"),
            _bytes32(data, "data"),
        ]
        with _rpc():
            logs = self.w3.eth.get_logs(
                {"address": self.address, "topics": topics, "fromBlock": self.from_block, "toBlock": "latest"}
            )
        return bytes(logs[0]["transactionHash"]) if logs else None

    # --- Convenience ----------------------------------------------------------------------------------------------

    def anchor(self, account: LocalAccount, root: bytes, count: int, *, timeout: float = 60.0) -> AnchorResult:
        """Anchors ``root`` from ``account`` and waits for it.

        A root this account already anchored counts as done (the existing record is returned); another account's
        anchor of the same root neither blocks nor counts. Reverts surface from a simulation before sending.
        """
        root = _bytes32(root, "root")
        done = self._already_anchored(account.address, root)
        if done is not None:
            return done
        self.simulate_anchor(account.address, root, count)
        signed = self.sign_anchor(account, root, count, self.pending_nonce(account.address))
        self.send_raw(signed.raw)
        receipt = self.wait_for_receipt(signed.tx_hash, timeout=timeout)
        if not receipt.ok:
            error = self.revert_reason(receipt)
            if isinstance(error, RootAlreadyAnchored):
                done = self._already_anchored(account.address, root)  # a concurrent sender of ours won the race
                if done is not None:
                    return done
            raise error
        record = self.anchor_record(account.address, root)
        if record is None:  # mined successfully yet not recorded: a re-organisation dropped it
            raise UnknownRevert(None, tx_hash=signed.tx_hash)
        return AnchorResult(root, record, signed.tx_hash, receipt.block_number, already_anchored=False)

    def revoke(
        self,
        account: LocalAccount,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None = None,
        *,
        agency: str | None = None,
        timeout: float = 60.0,
    ) -> Receipt:
        """Revokes document ``data`` under ``root`` from ``account`` and waits; reverts raise typed errors.

        ``agency``: whose anchor ``root`` is; by default ``account``'s own (the city admin names the agency).
        """
        self.simulate_revoke(account.address, root, data, proof, reason, replaced_by, agency=agency)
        nonce = self.pending_nonce(account.address)
        signed = self.sign_revoke(account, root, data, proof, reason, replaced_by, nonce, agency=agency)
        self.send_raw(signed.raw)
        return self.raise_for_status(self.wait_for_receipt(signed.tx_hash, timeout=timeout))

    # --- Internals ------------------------------------------------------------------------------------------------

    def _already_anchored(self, address: str, root: bytes) -> AnchorResult | None:
        record = self.anchor_record(address, root)
        if record is None:
            return None
        tx_hash = self.find_anchor_tx(address, root)
        receipt = self.get_receipt(tx_hash) if tx_hash is not None else None
        block = receipt.block_number if receipt is not None else None
        return AnchorResult(root, record, tx_hash, block, already_anchored=True)

    def _revoke_calldata(
        self, agency: str, root: bytes, data: bytes, proof: Sequence[bytes], reason: int, replaced_by: bytes | None
    ) -> bytes:
        if not 0 <= reason <= 255:
            raise ChainInputError(f"revocation reason {reason} is not a uint8")
        replacement = ZERO32 if replaced_by is None else _bytes32(replaced_by, "replaced_by")
        return self.artifact.encode_call(
            "revoke",
            _address(agency),
            _bytes32(root, "root"),
            _bytes32(data, "data"),
            _proof(proof),
            reason,
            replacement,
        )

    def _sign(self, account: LocalAccount, tx: dict[str, Any], nonce: int, fees: Fees | None) -> SignedTx:
        fees = fees or self.suggest_fees()
        full = {
            **tx,
            "nonce": nonce,
            "chainId": self.chain_id,
            "value": 0,
            "type": 2,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        signed = account.sign_transaction(full)
        return SignedTx(bytes(signed.raw_transaction), bytes(signed.hash), nonce)

    def _simulate(self, call: dict[str, Any], block: int | str = "latest") -> RegistryRevert | None:
        try:
            with _rpc():
                self.w3.eth.call(call, block)  # type: ignore[arg-type]
        except Exception as exc:
            if not is_revert_exception(exc):
                raise
            return decode_revert(revert_data_from_exception(exc))
        return None

    def _raise_simulated(self, call: dict[str, Any]) -> None:
        error = self._simulate(call)
        if error is not None:
            raise error


def _count(count: int) -> int:
    if not 0 <= count < 2**32:
        raise ChainInputError(f"batch size {count} does not fit a uint32")
    return count


def _proof(proof: Sequence[bytes]) -> list[bytes]:
    if len(proof) > MAX_PROOF_LENGTH:
        raise ChainInputError(f"a proof has at most {MAX_PROOF_LENGTH} nodes, not {len(proof)}")
    return [_bytes32(node, "proof node") for node in proof]


def _receipt_from_json(raw: dict[str, Any]) -> Receipt:
    return Receipt(
        tx_hash=bytes.fromhex(raw["transactionHash"][2:]),
        status=int(raw["status"], 16),
        block_number=int(raw["blockNumber"], 16),
        block_hash=bytes.fromhex(raw["blockHash"][2:]),
        gas_used=int(raw["gasUsed"], 16),
    )


def _receipt(raw: Any) -> Receipt:
    return Receipt(
        tx_hash=bytes(raw["transactionHash"]),
        status=int(raw["status"]),
        block_number=int(raw["blockNumber"]),
        block_hash=bytes(raw["blockHash"]),
        gas_used=int(raw["gasUsed"]),
    )
