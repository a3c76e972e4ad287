"""RegistryClient's steps on eth-tester, revert decoding on both backends' exception shapes, and URL redaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError

from ledger.chain import (
    ANCHOR_GAS_LIMIT,
    DocumentChainStatus,
    Fees,
    RegistryClient,
    RevocationReason,
    redact_rpc_url,
)
from ledger.chain._abi import decode_revert, load_artifact, revert_data_from_exception
from ledger.chain.merkle import MerkleTree, keccak256
from ledger.errors import (
    ChainInputError,
    ChainUnavailable,
    NotAnchorer,
    RootAlreadyAnchored,
    TransactionRejected,
    TransactionTimeout,
    UnknownRevert,
)
from xacthuc.devchain import free_port


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def test_signed_steps_are_separate_and_deterministic(
    registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    agency = agency_accounts[0]
    root = MerkleTree([keccak256(b"x")]).root
    nonce = registry.pending_nonce(agency.address)
    fees = Fees(max_fee_per_gas=3 * 10**9, max_priority_fee_per_gas=10**9)
    signed = registry.sign_anchor(agency, root, 1, nonce, fees)
    assert signed == registry.sign_anchor(agency, root, 1, nonce, fees)  # same bytes, same hash: resendable
    assert signed.nonce == nonce and signed.tx_hash == keccak256(signed.raw)
    assert registry.get_receipt(signed.tx_hash) is None
    assert not registry.transaction_known(signed.tx_hash)
    assert registry.send_raw(signed.raw) == signed.tx_hash
    assert registry.transaction_known(signed.tx_hash)
    assert registry.send_raw(signed.raw) == signed.tx_hash  # a resend of mined bytes is harmless
    receipt = registry.wait_for_receipt(signed.tx_hash, timeout=5)
    assert receipt.ok and registry.raise_for_status(receipt) is receipt
    assert 0 < receipt.gas_used < ANCHOR_GAS_LIMIT
    assert registry.pending_nonce(agency.address) == nonce + 1
    block_hash, block_time = registry.block(receipt.block_number)
    assert block_hash == receipt.block_hash and isinstance(block_time, datetime) and block_time.tzinfo
    record = registry.anchor_record(agency.address, root)
    assert record is not None and record.anchored_at == block_time


def test_chain_facts(registry: RegistryClient) -> None:
    assert registry.chain_id == registry.w3.eth.chain_id
    assert registry.block_number >= registry.from_block > 0
    fees = registry.suggest_fees()
    assert fees.max_fee_per_gas > fees.max_priority_fee_per_gas > 0


def test_nonce_too_low_is_rejected(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    registry.anchor(agency, keccak256(b"first"), 1)
    stale = registry.sign_anchor(agency, keccak256(b"second"), 1, nonce=0)
    with pytest.raises(TransactionRejected) as info:
        registry.send_raw(stale.raw)
    assert info.value.tx_hash == stale.tx_hash


def test_wait_for_receipt_deadline(registry: RegistryClient) -> None:
    registry.poll_interval = 0.001
    with pytest.raises(TransactionTimeout):
        registry.wait_for_receipt(keccak256(b"never sent"), timeout=0.01)


def test_second_anchor_of_a_root_by_the_same_agency_is_typed(
    registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """Two signed anchors of one root from one account: the second's status-0 receipt is RootAlreadyAnchored."""
    a = agency_accounts[0]
    root = keccak256(b"sent twice")
    nonce = registry.pending_nonce(a.address)
    first, late = (registry.sign_anchor(a, root, 1, n) for n in (nonce, nonce + 1))
    assert registry.wait_for_receipt(registry.send_raw(first.raw), timeout=5).ok
    receipt = registry.wait_for_receipt(registry.send_raw(late.raw), timeout=5)
    with pytest.raises(RootAlreadyAnchored) as info:
        registry.raise_for_status(receipt)
    assert info.value.agency == a.address and info.value.tx_hash == late.tx_hash


def test_malformed_input(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    with pytest.raises(ChainInputError):
        registry.sign_anchor(agency, b"short", 1, 0)
    with pytest.raises(ChainInputError):
        registry.sign_anchor(agency, keccak256(b"r"), 2**32, 0)
    with pytest.raises(ChainInputError):
        registry.sign_revoke(agency, keccak256(b"r"), keccak256(b"d"), [bytes(32)] * 65, 1, None, 0)
    with pytest.raises(ChainInputError):
        registry.sign_revoke(agency, keccak256(b"r"), keccak256(b"d"), [], 256, None, 0)
    with pytest.raises(ChainInputError):
        registry.status(agency.address, keccak256(b"r"), b"")
    with pytest.raises(ChainInputError):
        registry.status("not an address", keccak256(b"r"), keccak256(b"d"))


def test_unreachable_node_is_chain_unavailable() -> None:
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{free_port()}", request_kwargs={"timeout": 2}))
    client = RegistryClient(w3, "0x" + "11" * 20)
    with pytest.raises(ChainUnavailable) as info:
        client.anchor_record("0x" + "22" * 20, keccak256(b"r"))
    assert info.value.code == "CHAIN_UNAVAILABLE" and info.value.http_status == 503
    for read in (  # the bare eth_call of status, the one JSON-RPC batch, web3's own methods: one mapping
        lambda: client.status("0x" + "22" * 20, keccak256(b"r"), keccak256(b"d")),
        lambda: client.get_receipts([keccak256(b"t")]),
        lambda: client.block_number,
    ):
        with pytest.raises(ChainUnavailable):
            read()


def test_a_status_reason_is_a_revocation_reason_and_an_unknown_code_stays_an_int() -> None:
    agency = "0x" + "ab" * 20
    status = DocumentChainStatus.from_call(agency, 1_700_000_000, 2, 1_700_000_100, bytes(32))
    assert status.reason is RevocationReason.REPLACED and status.anchored and status.revoked
    assert status.anchorer == agency and status.replaced_by is None
    unknown = DocumentChainStatus.from_call(agency, 0, 9, 0, b"\x01" * 32)
    assert unknown.reason == 9 and not isinstance(unknown.reason, RevocationReason)
    assert not unknown.anchored and unknown.revoked and unknown.replaced_by == b"\x01" * 32
    assert not DocumentChainStatus(anchorer=None, anchored_at=None).revoked


def test_decode_every_custom_error() -> None:
    root = keccak256(b"root")
    address = "0x" + "ab" * 20
    agency = "0x" + "cd" * 20
    err = decode_revert(selector("NotAnchorer(address,address)") + encode(["address", "address"], [agency, address]))
    assert isinstance(err, NotAnchorer) and err.agency == Web3.to_checksum_address(agency)
    assert err.caller == Web3.to_checksum_address(address)
    unknown = decode_revert(b"\xde\xad\xbe\xef")
    assert isinstance(unknown, UnknownRevert) and unknown.revert_data == b"\xde\xad\xbe\xef"
    string_reason = decode_revert(selector("Error(string)") + encode(["string"], ["nope"]))
    assert isinstance(string_reason, UnknownRevert) and "nope" in string_reason.message
    assert isinstance(decode_revert(None), UnknownRevert)
    truncated = decode_revert(selector("NotAnchorer(address,address)") + root[:20])
    assert isinstance(truncated, UnknownRevert)


def test_revert_data_from_both_backends_exceptions() -> None:
    from eth_tester.exceptions import TransactionFailed

    payload = selector("RootNotAnchored(address,bytes32)") + bytes(32) + keccak256(b"r")
    anvil_style = ContractCustomError("0x" + payload.hex(), data="0x" + payload.hex())
    tester_style = TransactionFailed(f"execution reverted: {payload!r}")
    assert revert_data_from_exception(anvil_style) == payload
    assert revert_data_from_exception(tester_style) == payload
    assert revert_data_from_exception(RuntimeError("unrelated")) is None


def test_artifact_loads_from_package_data() -> None:
    artifact = load_artifact()
    assert artifact.compiler_version.startswith("0.8.28")
    assert artifact.functions["anchor"].selector == selector("anchor(bytes32,uint32)")
    assert artifact.event_topic("Anchored") == keccak256(b"Anchored(address,bytes32,uint32)")
    assert artifact.event_topic("Revoked") == keccak256(b"Revoked(address,bytes32,bytes32,uint8,bytes32)")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://user:secret@rpc.example.org/", "https://***@rpc.example.org/"),
        (
            "https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161",
            "https://mainnet.infura.io/v3/***",
        ),
        ("https://eth-mainnet.g.alchemy.com/v2/AbCdEf123456ghIJkl7890", "https://eth-mainnet.g.alchemy.com/v2/***"),
        ("https://node.example.org/rpc?apikey=s3cr3t&x=1", "https://node.example.org/rpc?apikey=***&x=***"),
        ("http://[::1]:8545/ext/bc/C/rpc", "http://[::1]:8545/ext/bc/C/rpc"),
    ],
)
def test_redact_rpc_url(url: str, expected: str) -> None:
    assert redact_rpc_url(url) == expected
