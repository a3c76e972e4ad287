"""The chain seam: a small client for the DocumentRegistry contract over an injected ``Web3``.

eth-tester in unit tests, anvil in integration tests, any JSON-RPC node in production. :class:`RegistryClient` is a
``ledger.chain.reader.RegistryReader`` that also sends transactions. They are signed locally with explicit nonces and
fixed gas limits, and each step (sign, send, receipt) is a separate call so an outbox can persist between them. With
a fixed gas limit a reverted transaction is mined with status 0 and nothing is raised, so every receipt is checked
and a failed one is replayed with ``eth_call`` to recover the typed error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import Web3
from web3.exceptions import Web3RPCError

from ledger.chain._abi import decode_revert, is_revert_exception, revert_data_from_exception
from ledger.chain._args import ZERO32, agency_address, batch_count, bytes32, proof_nodes, reason_code
from ledger.chain._eip712 import anchor_message, revoke_message, sign_typed
from ledger.chain._jsonrpc import batch_responses, http_provider, transport_errors
from ledger.chain.merkle import keccak256
from ledger.chain.reader import RegistryReader
from ledger.chain.types import AnchorResult, Fees, SignedTx, TxReceipt
from ledger.errors import RegistryRevert, RootAlreadyAnchored, TransactionRejected, TransactionTimeout, UnknownRevert

__all__ = [
    "ANCHOR_FOR_GAS_LIMIT",
    "ANCHOR_GAS_LIMIT",
    "DEPLOY_GAS_LIMIT",
    "RegistryClient",
    "revoke_for_gas_limit",
    "revoke_gas_limit",
]

#: anchor costs about 46,000 gas whatever the batch size; the margin covers calldata variation and repricing.
ANCHOR_GAS_LIMIT = 80_000
#: anchorFor costs about 51,000 (anchor + the agency's address and 65-byte signature in calldata + ecrecover).
ANCHOR_FOR_GAS_LIMIT = 90_000
#: Deployment costs about 1,000,000 gas (3.6 kB of runtime code: viaIR, optimizer runs 1,000,000).
DEPLOY_GAS_LIMIT = 1_500_000
DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei


def revoke_gas_limit(proof_length: int) -> int:
    """The fixed gas limit of a revoke with a proof of ``proof_length`` nodes (with a replacement stored)."""
    # Measured: about 76,000 with a replacement and 1 node, plus about 700 per further node (calldata + hashing).
    return 110_000 + 1_000 * proof_length


def revoke_for_gas_limit(proof_length: int) -> int:
    """The fixed gas limit of a revokeFor (revoke + signature calldata + ecrecover, about 5,000 more)."""
    return revoke_gas_limit(proof_length) + 10_000


class RegistryClient(RegistryReader):
    """The DocumentRegistry at ``address``, reached through ``w3``: read it, and send it transactions."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        *,
        from_block: int = 0,
        priority_fee: int = DEFAULT_PRIORITY_FEE,
        poll_interval: float = 0.05,
    ) -> None:
        super().__init__(w3, address, from_block=from_block)
        self.priority_fee = priority_fee
        self.poll_interval = poll_interval

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
        signed = client.sign(deployer, tx, client.pending_nonce(deployer.address))
        client.send_raw(signed.raw)
        receipt = client.wait_for_receipt(signed.tx_hash, timeout=timeout)
        with transport_errors():
            deployed = w3.eth.get_transaction_receipt(signed.tx_hash)["contractAddress"]  # type: ignore[arg-type]
        if not receipt.ok or deployed is None:
            raise UnknownRevert(None, tx_hash=signed.tx_hash)
        return cls(w3, deployed, from_block=receipt.block_number, **kwargs)

    def suggest_fees(self) -> Fees:
        """Fee caps from the latest base fee: twice it (room for six full blocks of rises) plus the tip."""
        with transport_errors():
            base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        return Fees(max_fee_per_gas=2 * base_fee + self.priority_fee, max_priority_fee_per_gas=self.priority_fee)

    # --- Transactions, step by step -------------------------------------------------------------------------------

    def sign(self, account: LocalAccount, tx: dict[str, Any], nonce: int, fees: Fees | None = None) -> SignedTx:
        """Signs ``tx`` (``to``, ``data``, ``gas``) as an EIP-1559 transaction with ``nonce``; sends nothing."""
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

    def sign_anchor(
        self, account: LocalAccount, root: bytes, count: int, nonce: int, fees: Fees | None = None
    ) -> SignedTx:
        """Signs ``anchor(root, count)`` with ``nonce`` and the fixed gas limit; sends nothing."""
        data = self.artifact.encode_call("anchor", bytes32(root, "root"), batch_count(count))
        return self.sign(account, {"to": self.address, "data": data, "gas": ANCHOR_GAS_LIMIT}, nonce, fees)

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
        return self.sign(account, tx, nonce, fees)

    # --- Sent for an agency by another account (the city's relayer): the agency signs EIP-712, the sender pays -----

    def authorise_anchor(self, agency: LocalAccount, root: bytes, count: int) -> bytes:
        """``agency``'s EIP-712 signature authorising ``anchorFor(agency, root, count)`` on this registry."""
        return sign_typed(agency, anchor_message(self.chain_id, self.address, root, count))

    def authorise_revoke(
        self, agency: LocalAccount, root: bytes, data: bytes, reason: int, replaced_by: bytes | None
    ) -> bytes:
        """``agency``'s EIP-712 signature authorising ``revokeFor`` of document ``data`` under its ``root``."""
        message = revoke_message(self.chain_id, self.address, root, data, reason, replaced_by)
        return sign_typed(agency, message)

    def sign_anchor_for(
        self,
        sender: LocalAccount,
        agency: LocalAccount,
        root: bytes,
        count: int,
        nonce: int,
        fees: Fees | None = None,
    ) -> SignedTx:
        """``anchorFor(agency, root, count, signature)`` signed by ``agency`` (EIP-712) and sent by ``sender`` with
        ``sender``'s ``nonce``; sends nothing."""
        data = self._anchor_for_calldata(agency.address, root, count, self.authorise_anchor(agency, root, count))
        return self.sign(sender, {"to": self.address, "data": data, "gas": ANCHOR_FOR_GAS_LIMIT}, nonce, fees)

    def sign_revoke_for(
        self,
        sender: LocalAccount,
        agency: LocalAccount,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        nonce: int,
        fees: Fees | None = None,
    ) -> SignedTx:
        """``revokeFor(agency, ...)`` signed by ``agency`` (EIP-712) and sent by ``sender``; sends nothing."""
        signature = self.authorise_revoke(agency, root, data, reason, replaced_by)
        call = self._revoke_for_calldata(agency.address, root, data, proof, reason, replaced_by, signature)
        tx = {"to": self.address, "data": call, "gas": revoke_for_gas_limit(len(proof))}
        return self.sign(sender, tx, nonce, fees)

    def simulate_anchor_for(self, sender: str, agency: str, root: bytes, count: int, signature: bytes) -> None:
        """Raises the typed error ``anchorFor`` sent by ``sender`` would revert with, if any."""
        data = self._anchor_for_calldata(agency, root, count, signature)
        self._raise_simulated({"from": sender, "to": self.address, "data": data})

    def simulate_revoke_for(
        self,
        sender: str,
        agency: str,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        signature: bytes,
    ) -> None:
        """Raises the typed error ``revokeFor`` sent by ``sender`` would revert with, if any."""
        call = self._revoke_for_calldata(agency, root, data, proof, reason, replaced_by, signature)
        self._raise_simulated({"from": sender, "to": self.address, "data": call})

    def send_raw(self, raw: bytes) -> bytes:
        """Broadcasts a signed transaction; returns its hash. Sending the same bytes again is harmless."""
        tx_hash = keccak256(raw)
        try:
            with transport_errors():
                self.w3.eth.send_raw_transaction(raw)
        except (Web3RPCError, ValueError, EthValidationError) as exc:  # the last two: eth-tester's refusals
            # "already known", or "nonce too low" because these very bytes were mined: not an error.
            if self.transaction_known(tx_hash):
                return tx_hash
            raise TransactionRejected(tx_hash, str(exc)) from exc
        return tx_hash

    def send_raws(self, raws: Sequence[bytes]) -> None:
        """Broadcasts many signed transactions in one round trip; refusals fall back to ``send_raw`` one by one."""
        provider = http_provider(self.w3)
        if not raws:
            return
        if provider is None:
            for raw in raws:
                self.send_raw(raw)
            return
        responses = batch_responses(provider, [("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        if responses is None:
            failed = list(raws)
        else:
            failed = [raw for raw, response in zip(raws, responses, strict=True) if "error" in response]
        for raw in failed:  # the single form tells "already known" from a real refusal, and raises the latter
            self.send_raw(raw)

    def wait_for_receipt(self, tx_hash: bytes, *, timeout: float = 60.0) -> TxReceipt:
        """Polls for the receipt until ``timeout`` seconds have passed. Does not check its status."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.get_receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hash, timeout)
            time.sleep(self.poll_interval)

    def raise_for_status(self, receipt: TxReceipt) -> TxReceipt:
        """Returns a successful receipt; for status 0, replays the transaction and raises its typed error."""
        if receipt.ok:
            return receipt
        raise self.revert_reason(receipt)

    def revert_reason(self, receipt: TxReceipt) -> RegistryRevert:
        """The typed error of a failed transaction, found by replaying it with ``eth_call``.

        Replayed on the parent block's state first (the state the transaction met, but for earlier transactions
        of its own block), then on its block's state (which includes them), then on the latest state for nodes
        that keep no history: the first replay that reverts wins.
        """
        with transport_errors():
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
        data = self.artifact.encode_call("anchor", bytes32(root, "root"), batch_count(count))
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

    # --- Convenience ----------------------------------------------------------------------------------------------

    def anchor(self, account: LocalAccount, root: bytes, count: int, *, timeout: float = 60.0) -> AnchorResult:
        """Anchors ``root`` from ``account`` and waits for it.

        A root this account already anchored counts as done (the existing record is returned); another account's
        anchor of the same root neither blocks nor counts. Reverts surface from a simulation before sending.
        """
        root = bytes32(root, "root")
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
    ) -> TxReceipt:
        """Revokes document ``data`` under ``root`` from ``account`` and waits; reverts raise typed errors.

        ``agency``: whose anchor ``root`` is; by default ``account``'s own (the city admin names the agency).
        """
        self.simulate_revoke(account.address, root, data, proof, reason, replaced_by, agency=agency)
        nonce = self.pending_nonce(account.address)
        signed = self.sign_revoke(account, root, data, proof, reason, replaced_by, nonce, agency=agency)
        self.send_raw(signed.raw)
        return self.raise_for_status(self.wait_for_receipt(signed.tx_hash, timeout=timeout))

    def anchor_for(
        self, sender: LocalAccount, agency: LocalAccount, root: bytes, count: int, *, timeout: float = 60.0
    ) -> AnchorResult:
        """Anchors ``root`` for ``agency`` (its EIP-712 signature) from ``sender``'s account, and waits for it.

        As :meth:`anchor`: a root ``agency`` already anchored counts as done; reverts surface from a simulation.
        """
        root = bytes32(root, "root")
        done = self._already_anchored(agency.address, root)
        if done is not None:
            return done
        signature = self.authorise_anchor(agency, root, count)
        self.simulate_anchor_for(sender.address, agency.address, root, count, signature)
        signed = self.sign_anchor_for(sender, agency, root, count, self.pending_nonce(sender.address))
        self.send_raw(signed.raw)
        self.raise_for_status(self.wait_for_receipt(signed.tx_hash, timeout=timeout))
        record = self.anchor_record(agency.address, root)
        if record is None:  # mined successfully yet not recorded: a re-organisation dropped it
            raise UnknownRevert(None, tx_hash=signed.tx_hash)
        receipt = self.get_receipt(signed.tx_hash)
        block = receipt.block_number if receipt is not None else None
        return AnchorResult(root, record, signed.tx_hash, block, already_anchored=False)

    def revoke_for(
        self,
        sender: LocalAccount,
        agency: LocalAccount,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None = None,
        *,
        timeout: float = 60.0,
    ) -> TxReceipt:
        """Revokes ``agency``'s document ``data`` under its ``root`` (its EIP-712 signature) from ``sender``'s
        account, and waits; reverts raise typed errors."""
        signature = self.authorise_revoke(agency, root, data, reason, replaced_by)
        self.simulate_revoke_for(sender.address, agency.address, root, data, proof, reason, replaced_by, signature)
        nonce = self.pending_nonce(sender.address)
        signed = self.sign_revoke_for(sender, agency, root, data, proof, reason, replaced_by, nonce)
        self.send_raw(signed.raw)
        return self.raise_for_status(self.wait_for_receipt(signed.tx_hash, timeout=timeout))

    # --- Internals ------------------------------------------------------------------------------------------------

    def _anchor_for_calldata(self, agency: str, root: bytes, count: int, signature: bytes) -> bytes:
        return self.artifact.encode_call(
            "anchorFor", agency_address(agency), bytes32(root, "root"), batch_count(count), bytes(signature)
        )

    def _revoke_for_calldata(
        self,
        agency: str,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None,
        signature: bytes,
    ) -> bytes:
        replacement = ZERO32 if replaced_by is None else bytes32(replaced_by, "replaced_by")
        return self.artifact.encode_call(
            "revokeFor",
            agency_address(agency),
            bytes32(root, "root"),
            bytes32(data, "data"),
            proof_nodes(proof),
            reason_code(reason),
            replacement,
            bytes(signature),
        )

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
        reason = reason_code(reason)
        replacement = ZERO32 if replaced_by is None else bytes32(replaced_by, "replaced_by")
        return self.artifact.encode_call(
            "revoke",
            agency_address(agency),
            bytes32(root, "root"),
            bytes32(data, "data"),
            proof_nodes(proof),
            reason,
            replacement,
        )

    def _simulate(self, call: dict[str, Any], block: int | str = "latest") -> RegistryRevert | None:
        try:
            with transport_errors():
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
