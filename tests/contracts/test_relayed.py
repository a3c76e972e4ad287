"""Issue 10, the gas model: the city's relayer sends every agency's anchor and revocation (``anchorFor``,
``revokeFor``), each authorised by the agency's EIP-712 signature. The registry records under the agency exactly as
its own ``anchor``/``revoke`` would (same events, same ``status``), and a relayer can spend gas but never anchor or
revoke for anyone without that agency's signature: another key, a signature for another chain or registry, a
malleable high-s twin or a malformed one is ``BadSignature``. On eth-tester and (marked anvil) on a real anvil.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import _eip712
from ledger.chain.client import ANCHOR_FOR_GAS_LIMIT, RegistryClient
from ledger.chain.merkle import MerkleTree, keccak256
from ledger.chain.proof import RevocationReason
from ledger.errors import AlreadyRevoked, BadSignature, NotAnchorer, RootAlreadyAnchored

BACKENDS = ["eth-tester", pytest.param("anvil", marks=pytest.mark.anvil)]
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest) -> RegistryClient:
    name = "registry" if request.param == "eth-tester" else "anvil_registry"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def relayer(agency_accounts: list[LocalAccount]) -> LocalAccount:
    """A funded account that only sends (the city's relayer)."""
    return agency_accounts[2]


def penniless(label: str) -> LocalAccount:
    """An agency's account: it signs, and holds no ether at all."""
    return Account.from_key(keccak256(f"xacthuc penniless agency {label}".encode()))  # type: ignore[no-any-return]


def docs(n: int, label: str = "doc") -> list[bytes]:
    return [keccak256(f"{label} {i}".encode()) for i in range(n)]


def high_s_twin(signature: bytes) -> bytes:
    """The same signature's malleable twin: s' = n - s, v flipped. ecrecover accepts it; the registry must not."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def test_relayer_anchors_for_two_agencies_recorded_under_each(client: RegistryClient, relayer: LocalAccount) -> None:
    a, b = penniless("a"), penniless("b")
    root_a, root_b = MerkleTree(docs(4, "a")).root, MerkleTree(docs(3, "b")).root
    ra = client.anchor_for(relayer, a, root_a, 4)
    rb = client.anchor_for(relayer, b, root_b, 3)
    assert (ra.record.agency, ra.record.count) == (a.address, 4)
    assert (rb.record.agency, rb.record.count) == (b.address, 3)
    assert client.anchor_record(relayer.address, root_a) is None  # nothing under the relayer
    assert client.anchor_record(b.address, root_a) is None
    assert client.find_anchor_tx(a.address, root_a) == ra.tx_hash  # the same Anchored(agency, root, count) event
    assert client.w3.eth.get_transaction(ra.tx_hash)["from"] == relayer.address  # type: ignore[arg-type]
    assert client.w3.eth.get_balance(a.address) == 0 == client.w3.eth.get_balance(b.address)
    assert client.status(a.address, root_a, docs(4, "a")[0]).anchorer == a.address


def test_anchor_for_is_the_same_record_as_the_agencys_own_anchor(
    client: RegistryClient, relayer: LocalAccount, agency_accounts: list[LocalAccount]
) -> None:
    agency = agency_accounts[0]
    root = MerkleTree(docs(2)).root
    client.anchor(agency, root, 2)
    signature = client.authorise_anchor(agency, root, 2)
    with pytest.raises(RootAlreadyAnchored):  # one record per (agency, root), whoever sent it
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, signature)


def test_anchor_signed_by_another_key_is_refused(client: RegistryClient, relayer: LocalAccount) -> None:
    agency, thief = penniless("victim"), penniless("thief")
    root = MerkleTree(docs(2)).root
    signature = client.authorise_anchor(thief, root, 2)
    with pytest.raises(BadSignature) as info:
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, signature)
    assert info.value.agency == agency.address


def test_relayer_cannot_anchor_for_an_agency_with_its_own_signature(
    client: RegistryClient, relayer: LocalAccount
) -> None:
    """A stolen relayer key spends gas, nothing more: its own signature makes no record for an agency."""
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    with pytest.raises(BadSignature):
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, client.authorise_anchor(relayer, root, 2))


def test_signature_for_another_count_or_root_is_refused(client: RegistryClient, relayer: LocalAccount) -> None:
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    signature = client.authorise_anchor(agency, root, 2)
    with pytest.raises(BadSignature):
        client.simulate_anchor_for(relayer.address, agency.address, root, 3, signature)
    with pytest.raises(BadSignature):
        client.simulate_anchor_for(relayer.address, agency.address, keccak256(b"other root"), 2, signature)


def test_replayed_signature_on_another_chain_or_registry_is_refused(
    client: RegistryClient, relayer: LocalAccount, deployer: LocalAccount
) -> None:
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    other_chain = _eip712.sign_typed(agency, _eip712.anchor_message(client.chain_id + 1, client.address, root, 2))
    with pytest.raises(BadSignature):
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, other_chain)
    second = RegistryClient.deploy(client.w3, deployer, deployer.address, timeout=10)
    for_second = second.authorise_anchor(agency, root, 2)
    with pytest.raises(BadSignature):  # signed for the second registry, replayed on the first
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, for_second)
    second.simulate_anchor_for(relayer.address, agency.address, root, 2, for_second)  # where it belongs: fine


def test_replayed_anchor_signature_cannot_anchor_twice(client: RegistryClient, relayer: LocalAccount) -> None:
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    client.anchor_for(relayer, agency, root, 2)
    with pytest.raises(RootAlreadyAnchored):
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, client.authorise_anchor(agency, root, 2))


def test_high_s_signature_is_refused(client: RegistryClient, relayer: LocalAccount) -> None:
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    signature = client.authorise_anchor(agency, root, 2)
    twin = high_s_twin(signature)
    message = _eip712.anchor_message(client.chain_id, client.address, root, 2)
    recovered = Account._recover_hash(_eip712.signing_digest(message), signature=twin)
    assert recovered == agency.address  # the twin is a valid secp256k1 signature of the agency...
    with pytest.raises(BadSignature):  # ...which the registry refuses (EIP-2)
        client.simulate_anchor_for(relayer.address, agency.address, root, 2, twin)
    client.simulate_anchor_for(relayer.address, agency.address, root, 2, signature)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:64], id="64-bytes"),
        pytest.param(lambda s: s + b"\x00", id="66-bytes"),
        pytest.param(lambda s: b"", id="empty"),
        pytest.param(lambda s: s[:64] + bytes([s[64] - 27]), id="v-0-or-1"),
        pytest.param(lambda s: s[:64] + b"\x1d", id="v-29"),
        pytest.param(lambda s: bytes(32) + s[32:], id="r-zero"),
        pytest.param(lambda s: bytes(65), id="all-zero"),
    ],
)
def test_malformed_signature_is_refused(registry: RegistryClient, relayer: LocalAccount, mangle: object) -> None:
    agency = penniless("agency")
    root = MerkleTree(docs(2)).root
    bad = mangle(registry.authorise_anchor(agency, root, 2))  # type: ignore[operator]
    with pytest.raises(BadSignature):
        registry.simulate_anchor_for(relayer.address, agency.address, root, 2, bad)


def test_zero_address_agency_is_refused(registry: RegistryClient, relayer: LocalAccount) -> None:
    """ecrecover answers the zero address for garbage: that must never count as the zero agency's signature."""
    root = MerkleTree(docs(2)).root
    with pytest.raises(BadSignature):
        registry.simulate_anchor_for(relayer.address, "0x" + "00" * 20, root, 2, bytes(64) + b"\x1b")


def test_sent_anyway_bad_signature_is_recovered_from_the_receipt(
    registry: RegistryClient, relayer: LocalAccount
) -> None:
    """Sent without simulating (fixed gas limit: mined with status 0), the typed error comes back by replay."""
    agency, thief = penniless("agency"), penniless("thief")
    root = MerkleTree(docs(2)).root
    signature = registry.authorise_anchor(thief, root, 2)
    data = registry._anchor_for_calldata(agency.address, root, 2, signature)
    tx = {"to": registry.address, "data": data, "gas": ANCHOR_FOR_GAS_LIMIT}
    signed = registry.sign(relayer, tx, registry.pending_nonce(relayer.address))
    receipt = registry.wait_for_receipt(registry.send_raw(signed.raw), timeout=10)
    assert receipt.status == 0
    with pytest.raises(BadSignature):
        registry.raise_for_status(receipt)


def test_digest_is_the_contracts(registry: RegistryClient) -> None:
    """The Python EIP-712 encoding and the contract's domain agree (name, version, chain id, address)."""
    (separator,) = registry._view("DOMAIN_SEPARATOR")
    domain_type = keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    expected = keccak256(
        domain_type
        + keccak256(b"xacthuc DocumentRegistry")
        + keccak256(b"1")
        + registry.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(registry.address[2:])
    )
    assert separator == expected
    root = keccak256(b"root")
    struct = keccak256(keccak256(b"Anchor(bytes32 root,uint32 count)") + root + (7).to_bytes(32, "big"))
    digest = keccak256(b"\x19\x01" + expected + struct)
    assert _eip712.signing_digest(_eip712.anchor_message(registry.chain_id, registry.address, root, 7)) == digest


# --- revokeFor ------------------------------------------------------------------------------------------------------


def test_relayer_revokes_only_with_the_agencys_signature(client: RegistryClient, relayer: LocalAccount) -> None:
    agency, other = penniless("agency"), penniless("other")
    leaves = docs(5)
    tree = MerkleTree(leaves)
    client.anchor_for(relayer, agency, tree.root, 5)
    data, proof = leaves[2], tree.proof(2)
    reason = RevocationReason.ANNULLED
    for signer in (other, relayer):  # another agency's signature, the relayer's own
        signature = client.authorise_revoke(signer, tree.root, data, reason, None)
        with pytest.raises(BadSignature):
            client.simulate_revoke_for(relayer.address, agency.address, tree.root, data, proof, reason, None, signature)
    # a signature for another document or another reason does not carry over
    for_other_doc = client.authorise_revoke(agency, tree.root, leaves[3], reason, None)
    with pytest.raises(BadSignature):
        client.simulate_revoke_for(relayer.address, agency.address, tree.root, data, proof, reason, None, for_other_doc)
    receipt = client.revoke_for(relayer, agency, tree.root, data, proof, reason)
    status = client.status(agency.address, tree.root, data)
    assert status.revoked and status.reason == reason
    assert client.find_revoke_tx(agency.address, tree.root, data) == receipt.tx_hash  # the same Revoked event
    assert client.w3.eth.get_balance(agency.address) == 0
    with pytest.raises(AlreadyRevoked):  # the signature replayed
        signature = client.authorise_revoke(agency, tree.root, data, reason, None)
        client.simulate_revoke_for(relayer.address, agency.address, tree.root, data, proof, reason, None, signature)


def test_revoke_for_records_a_replacement(client: RegistryClient, relayer: LocalAccount) -> None:
    agency = penniless("agency")
    leaves = docs(4)
    tree = MerkleTree(leaves)
    client.anchor_for(relayer, agency, tree.root, 4)
    replacement = keccak256(b"the replacement")
    client.revoke_for(relayer, agency, tree.root, leaves[1], tree.proof(1), RevocationReason.REPLACED, replacement)
    assert client.status(agency.address, tree.root, leaves[1]).replaced_by == replacement


def test_admin_revokes_directly_and_the_relayer_cannot_without_a_signature(
    client: RegistryClient, relayer: LocalAccount, deployer: LocalAccount
) -> None:
    agency = penniless("agency")
    leaves = docs(2)
    tree = MerkleTree(leaves)
    client.anchor_for(relayer, agency, tree.root, 2)
    with pytest.raises(NotAnchorer):  # the relayer sending plain revoke for the agency: not the anchorer
        client.simulate_revoke(relayer.address, tree.root, leaves[0], tree.proof(0), 1, agency=agency.address)
    client.revoke(deployer, tree.root, leaves[0], tree.proof(0), 1, agency=agency.address)  # the city admin
    assert client.status(agency.address, tree.root, leaves[0]).revoked


def test_agency_still_sends_its_own(client: RegistryClient, agency_accounts: list[LocalAccount]) -> None:
    agency = agency_accounts[0]
    leaves = docs(2)
    tree = MerkleTree(leaves)
    client.anchor(agency, tree.root, 2)
    client.revoke(agency, tree.root, leaves[1], tree.proof(1), 3)
    assert client.status(agency.address, tree.root, leaves[1]).revoked


def test_registry_code_matches_the_artefact(client: RegistryClient) -> None:
    assert client.is_current_build()
    assert not RegistryClient(client.w3, "0x" + "22" * 20).is_current_build()  # no code there
