"""DocumentRegistry behaviour through RegistryClient, on eth-tester and (marked anvil) on a real anvil node.

Revert tests check both paths: the simulation that catches a revert before sending, and the status-0 receipt of a
transaction sent regardless (fixed gas limit: mined, nothing raised) whose typed error is recovered by replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree, keccak256, leaf_hash, node_hash
from ledger.chain.proof import RevocationReason
from ledger.errors import (
    AlreadyRevoked,
    EmptyBatch,
    InvalidProof,
    InvalidReason,
    NotAnchorer,
    RegistryRevert,
    RootAlreadyAnchored,
    RootNotAnchored,
    ZeroRoot,
)

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil)]


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest) -> RegistryClient:
    """The registry on each backend."""
    name = "registry" if request.param == "eth-tester" else "anvil_registry"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def docs(n: int, label: str = "doc") -> list[bytes]:
    return [keccak256(f"{label} {i}".encode()) for i in range(n)]


def sent_anyway(client: RegistryClient, sign: Callable[[int], bytes], account: LocalAccount) -> RegistryRevert:
    """Sends a transaction without simulating it, checks it was mined with status 0, returns its typed error."""
    raw = sign(client.pending_nonce(account.address))
    tx_hash = client.send_raw(raw)
    receipt = client.wait_for_receipt(tx_hash, timeout=10)
    assert receipt.status == 0
    with pytest.raises(RegistryRevert) as info:
        client.raise_for_status(receipt)
    assert info.value.tx_hash == tx_hash
    return info.value


def test_anchor_records_agency_time_and_count(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    tree = MerkleTree(docs(5))
    before = datetime.now(UTC) - timedelta(minutes=5)
    result = client.anchor(agency, tree.root, 5)
    assert not result.already_anchored
    assert result.record.agency == agency.address
    assert result.record.count == 5
    assert result.record.anchored_at >= before
    assert client.anchor_record(agency.address, tree.root) == result.record
    assert client.find_anchor_tx(agency.address, tree.root) == result.tx_hash
    receipt = client.get_receipt(result.tx_hash or b"")
    assert receipt is not None and receipt.ok and receipt.block_number == result.block_number
    assert client.anchor_record(agency.address, keccak256(b"never anchored")) is None
    assert client.anchor_record(agency_accounts[1].address, tree.root) is None  # keyed by agency and root


def test_anchor_emits_anchored_event(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    root = MerkleTree(docs(3)).root
    result = registry.anchor(agency_accounts[0], root, 3)
    logs = registry.w3.eth.get_logs({"address": registry.address, "fromBlock": result.block_number or 0})
    (log,) = logs
    assert bytes(log["topics"][0]) == registry.artifact.event_topic("Anchored")
    assert bytes(log["topics"][1])[-20:] == bytes.fromhex(agency_accounts[0].address[2:])
    assert bytes(log["topics"][2]) == root
    assert int.from_bytes(bytes(log["data"]), "big") == 3


def test_double_anchor_by_same_agency_is_done(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    root = MerkleTree(docs(2)).root
    first = client.anchor(agency_accounts[0], root, 2)
    again = client.anchor(agency_accounts[0], root, 2)
    assert again.already_anchored
    assert again.record == first.record
    assert again.tx_hash == first.tx_hash and again.block_number == first.block_number


def test_double_anchor_sent_anyway_is_typed(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    root = MerkleTree(docs(2)).root
    client.anchor(agency, root, 2)
    with pytest.raises(RootAlreadyAnchored) as info:
        client.simulate_anchor(agency.address, root, 2)
    assert info.value.root == root and info.value.agency == agency.address
    mined = sent_anyway(client, lambda nonce: client.sign_anchor(agency, root, 2, nonce).raw, agency)
    assert isinstance(mined, RootAlreadyAnchored) and mined.agency == agency.address
    assert mined.code == "ROOT_ALREADY_ANCHORED"


def test_other_agency_anchors_the_same_root_as_its_own(
    client: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """A root is public before it is anchored: anyone may anchor it too, and each anchor is its anchorer's own."""
    a, b = agency_accounts[:2]
    root = MerkleTree(docs(2)).root
    first = client.anchor(a, root, 2)
    second = client.anchor(b, root, 2)
    assert not second.already_anchored and second.record.agency == b.address
    assert client.anchor_record(a.address, root) == first.record
    assert client.find_anchor_tx(a.address, root) == first.tx_hash
    assert client.find_anchor_tx(b.address, root) == second.tx_hash


def test_zero_root_and_empty_batch(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    with pytest.raises(ZeroRoot):
        client.anchor(agency, bytes(32), 1)
    with pytest.raises(EmptyBatch):
        client.anchor(agency, keccak256(b"root"), 0)
    mined = sent_anyway(client, lambda nonce: client.sign_anchor(agency, bytes(32), 1, nonce).raw, agency)
    assert isinstance(mined, ZeroRoot)


def test_revoke_by_anchorer(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(13)
    tree = MerkleTree(data)
    client.anchor(agency, tree.root, 13)
    receipt = client.revoke(agency, tree.root, data[7], tree.proof(7), RevocationReason.ANNULLED)
    assert receipt.ok
    status = client.status(agency.address, tree.root, data[7])
    assert status.anchored and status.revoked
    assert status.anchorer == agency.address
    assert status.reason is RevocationReason.ANNULLED
    assert status.revoked_at is not None and status.anchored_at is not None
    assert status.revoked_at >= status.anchored_at
    assert status.replaced_by is None
    untouched = client.status(agency.address, tree.root, data[6])
    assert untouched.anchored and not untouched.revoked and untouched.revoked_at is None


def test_revoke_by_admin(client: RegistryClient, deployer: LocalAccount, agency_accounts: list[LocalAccount]) -> None:
    data = docs(3)
    tree = MerkleTree(data)
    agency = agency_accounts[0].address
    client.anchor(agency_accounts[0], tree.root, 3)
    assert client.admin() == deployer.address
    client.revoke(deployer, tree.root, data[2], tree.proof(2), RevocationReason.ERROR, agency=agency)
    assert client.status(agency, tree.root, data[2]).reason is RevocationReason.ERROR
    with pytest.raises(RootNotAnchored):  # without naming the agency, the admin asks about its own anchor
        client.revoke(deployer, tree.root, data[1], tree.proof(1), RevocationReason.ERROR)


def test_revoke_by_other_agency_is_not_anchorer(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    a, b = agency_accounts[:2]
    data = docs(4)
    tree = MerkleTree(data)
    client.anchor(a, tree.root, 4)
    with pytest.raises(NotAnchorer) as info:
        client.revoke(b, tree.root, data[1], tree.proof(1), RevocationReason.ANNULLED, agency=a.address)
    assert info.value.agency == a.address and info.value.caller == b.address
    assert info.value.tx_hash is None  # caught by the simulation
    mined = sent_anyway(
        client,
        lambda nonce: client.sign_revoke(b, tree.root, data[1], tree.proof(1), 1, None, nonce, agency=a.address).raw,
        b,
    )
    assert isinstance(mined, NotAnchorer) and mined.caller == b.address
    assert not client.status(a.address, tree.root, data[1]).revoked


def test_revocation_is_keyed_by_agency_root_and_data(
    client: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """Agency B anchors A's public leaf data in its own tree, or A's very root from its own account, and revokes it
    there: A's document is untouched."""
    a, b = agency_accounts[:2]
    data = docs(4)
    tree_a = MerkleTree(data)
    client.anchor(a, tree_a.root, 4)
    tree_b = MerkleTree([data[0], keccak256(b"b's own document")])
    client.anchor(b, tree_b.root, 2)
    client.revoke(b, tree_b.root, data[0], tree_b.proof(0), RevocationReason.ANNULLED)
    assert client.status(b.address, tree_b.root, data[0]).revoked
    assert not client.status(a.address, tree_a.root, data[0]).revoked
    client.anchor(b, tree_a.root, 4)
    client.revoke(b, tree_a.root, data[1], tree_a.proof(1), RevocationReason.ANNULLED)
    assert client.status(b.address, tree_a.root, data[1]).revoked
    assert not client.status(a.address, tree_a.root, data[1]).revoked


def test_bad_proof_is_invalid_proof(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(5)
    tree = MerkleTree(data)
    client.anchor(agency, tree.root, 5)
    with pytest.raises(InvalidProof) as info:
        client.revoke(agency, tree.root, data[1], tree.proof(2), RevocationReason.ANNULLED)
    assert info.value.root == tree.root and info.value.data == data[1]
    with pytest.raises(InvalidProof):
        client.revoke(agency, tree.root, keccak256(b"not in the tree"), tree.proof(1), RevocationReason.ANNULLED)
    mined = sent_anyway(
        client,
        lambda nonce: client.sign_revoke(agency, tree.root, data[1], (), 1, None, nonce).raw,
        agency,
    )
    assert isinstance(mined, InvalidProof)


def test_inner_node_as_leaf_cannot_be_revoked(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(4)
    tree = MerkleTree(data)
    registry.anchor(agency, tree.root, 4)
    inner = node_hash(leaf_hash(data[0]), leaf_hash(data[1]))
    sibling = node_hash(leaf_hash(data[2]), leaf_hash(data[3]))
    with pytest.raises(InvalidProof):
        registry.revoke(agency, tree.root, inner, [sibling], RevocationReason.ANNULLED)
    assert not registry.verify_proof_on_chain(tree.root, inner, [sibling])


def test_revoke_unanchored_root(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    data = docs(2)
    tree = MerkleTree(data)
    with pytest.raises(RootNotAnchored) as info:
        client.revoke(agency_accounts[0], tree.root, data[0], tree.proof(0), RevocationReason.OTHER)
    assert info.value.root == tree.root and info.value.agency == agency_accounts[0].address


def test_already_revoked(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(2)
    tree = MerkleTree(data)
    client.anchor(agency, tree.root, 2)
    client.revoke(agency, tree.root, data[0], tree.proof(0), RevocationReason.OTHER)
    with pytest.raises(AlreadyRevoked) as info:
        client.revoke(agency, tree.root, data[0], tree.proof(0), RevocationReason.ANNULLED)
    assert (info.value.agency, info.value.root, info.value.data) == (agency.address, tree.root, data[0])
    mined = sent_anyway(
        client,
        lambda nonce: client.sign_revoke(agency, tree.root, data[0], tree.proof(0), 3, None, nonce).raw,
        agency,
    )
    assert isinstance(mined, AlreadyRevoked)


@pytest.mark.parametrize("reason", [0, 5, 255])
def test_invalid_reason(registry: RegistryClient, agency_accounts: list[LocalAccount], reason: int) -> None:
    agency = agency_accounts[0]
    data = docs(2)
    tree = MerkleTree(data)
    registry.anchor(agency, tree.root, 2)
    with pytest.raises(InvalidReason) as info:
        registry.revoke(agency, tree.root, data[0], tree.proof(0), reason)
    assert info.value.reason == reason


@pytest.mark.parametrize("reason", [RevocationReason.ANNULLED, RevocationReason.ERROR, RevocationReason.OTHER])
def test_replaced_by_requires_reason_replaced(
    registry: RegistryClient, agency_accounts: list[LocalAccount], reason: RevocationReason
) -> None:
    agency = agency_accounts[0]
    data = docs(2)
    tree = MerkleTree(data)
    registry.anchor(agency, tree.root, 2)
    with pytest.raises(InvalidReason):
        registry.revoke(agency, tree.root, data[0], tree.proof(0), reason, keccak256(b"replacement"))


def test_supersession_records_replacement(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(3)
    tree = MerkleTree(data)
    client.anchor(agency, tree.root, 3)
    replacement = keccak256(b"Quyet dinh so 2393/QD-UBND")
    client.revoke(agency, tree.root, data[1], tree.proof(1), RevocationReason.REPLACED, replacement)
    status = client.status(agency.address, tree.root, data[1])
    assert status.reason is RevocationReason.REPLACED
    assert status.replaced_by == replacement
    # "replaced" without a known replacement is allowed too.
    client.revoke(agency, tree.root, data[2], tree.proof(2), RevocationReason.REPLACED)
    assert client.status(agency.address, tree.root, data[2]).replaced_by is None


def test_status_of_unknown_root(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    status = registry.status(agency_accounts[0].address, keccak256(b"unknown"), keccak256(b"data"))
    assert not status.anchored and not status.revoked
    assert status.anchorer is None and status.anchored_at is None and status.replaced_by is None


def test_revoked_event(registry: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    data = docs(2)
    tree = MerkleTree(data)
    registry.anchor(agency, tree.root, 2)
    replacement = keccak256(b"new")
    receipt = registry.revoke(agency, tree.root, data[1], tree.proof(1), 2, replacement)
    (log,) = registry.w3.eth.get_logs({"address": registry.address, "fromBlock": receipt.block_number})
    assert bytes(log["topics"][0]) == registry.artifact.event_topic("Revoked")
    assert bytes(log["topics"][1])[-20:] == bytes.fromhex(agency.address[2:])
    assert bytes(log["topics"][2]) == tree.root and bytes(log["topics"][3]) == data[1]
    body = bytes(log["data"])
    assert int.from_bytes(body[:32], "big") == 2 and body[32:] == replacement
