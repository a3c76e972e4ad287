"""The Merkle rule: shared vectors, an independent reference implementation, properties, and malformed input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain.merkle import MAX_PROOF_LENGTH, MerkleTree, compute_root, leaf_hash, node_hash, verify_proof
from ledger.errors import EmptyMerkleTree, MerkleInputError, ProofTooLong

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "merkle"
VECTOR_FILES = sorted(VECTORS.glob("*.json"))


def load_vector(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def reference_keccak(data: bytes) -> bytes:
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def reference_root(data: list[bytes]) -> bytes:
    """The rule written out as plainly as possible, with another keccak implementation."""
    level = [reference_keccak(b"\x00" + d) for d in data]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 == len(level):
                nxt.append(level[i])
            else:
                a, b = sorted((level[i], level[i + 1]))
                nxt.append(reference_keccak(b"\x01" + a + b))
        level = nxt
    return level[0]


def test_vectors_cover_the_required_cases() -> None:
    names = {p.stem for p in VECTOR_FILES}
    assert {f"leaves_{n}" for n in (1, 2, 3, 5, 8, 13)} <= names
    assert {"tampered_proof", "inner_node_as_leaf"} <= names


@pytest.mark.parametrize("path", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_vector(path: Path) -> None:
    vector = load_vector(path)
    data = [unhex(d) for d in vector["data"]]
    root = unhex(vector["root"])
    tree = MerkleTree(data)
    assert tree.root == root
    assert reference_root(data) == root
    assert [list(p) for p in tree.proofs()] == [[unhex(x) for x in p] for p in vector["proofs"]]
    for i, d in enumerate(data):
        assert compute_root(d, tree.proof(i)) == root
    for check in vector["checks"]:
        proof = [unhex(x) for x in check["proof"]]
        assert verify_proof(root, unhex(check["data"]), proof) is check["valid"], check["why"]


def test_known_answers_against_another_keccak() -> None:
    zero = bytes(32)
    assert leaf_hash(zero) == reference_keccak(b"\x00" * 33)
    a, b = reference_keccak(b"a"), reference_keccak(b"b")
    low, high = sorted((a, b))
    assert node_hash(a, b) == node_hash(b, a) == reference_keccak(b"\x01" + low + high)
    # The empty-string keccak pins keccak-256 (not NIST SHA3-256, whose padding differs).
    assert reference_keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_single_leaf_root_is_its_leaf_hash() -> None:
    data = reference_keccak(b"one")
    tree = MerkleTree([data])
    assert tree.root == leaf_hash(data) != data
    assert tree.proof(0) == ()
    assert tree.proofs() == [()]


def test_odd_node_is_promoted_without_a_sibling() -> None:
    data = [reference_keccak(bytes([i])) for i in range(5)]
    tree = MerkleTree(data)
    assert len(tree.proof(4)) == 1  # promoted at levels 0 and 1, paired at level 2
    assert tree.proof(4)[0] == node_hash(
        node_hash(leaf_hash(data[0]), leaf_hash(data[1])), node_hash(leaf_hash(data[2]), leaf_hash(data[3]))
    )


def test_second_preimage_inner_node_as_leaf_is_rejected() -> None:
    data = [reference_keccak(bytes([i])) for i in range(4)]
    tree = MerkleTree(data)
    inner = node_hash(leaf_hash(data[0]), leaf_hash(data[1]))
    other_half = node_hash(leaf_hash(data[2]), leaf_hash(data[3]))
    assert node_hash(inner, other_half) == tree.root  # the attacker's "proof" would work without the prefixes
    assert not verify_proof(tree.root, inner, [other_half])


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 16, 17, 100, 1025])
def test_proofs_match_proof_and_reference(size: int) -> None:
    data = [reference_keccak(i.to_bytes(4, "big")) for i in range(size)]
    tree = MerkleTree(data)
    assert tree.root == reference_root(data)
    proofs = tree.proofs()
    assert len(proofs) == len(tree) == size
    for i in range(size):
        assert proofs[i] == tree.proof(i)
        assert compute_root(data[i], proofs[i]) == tree.root


def test_large_tree_all_proofs_verify() -> None:
    data = [i.to_bytes(32, "big") for i in range(20_000)]
    tree = MerkleTree(data)
    proofs = tree.proofs()
    assert all(len(p) <= 15 for p in proofs)
    for i in range(0, 20_000, 997):
        assert compute_root(data[i], proofs[i]) == tree.root


hashes = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(data=st.lists(hashes, min_size=1, max_size=40), pick=st.integers(min_value=0))
def test_property_every_proof_verifies(data: list[bytes], pick: int) -> None:
    tree = MerkleTree(data)
    for i, proof in enumerate(tree.proofs()):
        assert verify_proof(tree.root, data[i], proof)
    assert tree.proof(pick % len(data)) == tree.proofs()[pick % len(data)]


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(hashes, min_size=1, max_size=40, unique=True),
    index=st.integers(min_value=0),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_property_any_flipped_byte_fails(data: list[bytes], index: int, position: int, flip: int) -> None:
    tree = MerkleTree(data)
    i = index % len(data)
    proof = list(tree.proof(i))
    material = [data[i], *proof]  # flip a byte of the data or of any proof node
    target = position % (32 * len(material))
    node, offset = divmod(target, 32)
    tampered = bytearray(material[node])
    tampered[offset] ^= flip
    material[node] = bytes(tampered)
    assert not verify_proof(tree.root, material[0], material[1:])


def test_empty_tree_is_an_error() -> None:
    with pytest.raises(EmptyMerkleTree) as info:
        MerkleTree([])
    assert info.value.code == "MERKLE_EMPTY_TREE"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None, 7])
def test_malformed_leaf_data_is_rejected(bad: Any) -> None:
    with pytest.raises(MerkleInputError):
        MerkleTree([bytes(32), bad])
    with pytest.raises(MerkleInputError):
        leaf_hash(bad)
    with pytest.raises(MerkleInputError):
        compute_root(bad, [])


def test_malformed_proof_node_is_rejected() -> None:
    with pytest.raises(MerkleInputError, match="proof node 1"):
        compute_root(bytes(32), [bytes(32), bytes(31)])


def test_too_long_proof_is_rejected() -> None:
    with pytest.raises(ProofTooLong) as info:
        compute_root(bytes(32), [bytes(32)] * (MAX_PROOF_LENGTH + 1))
    assert info.value.length == MAX_PROOF_LENGTH + 1
    assert info.value.code == "MERKLE_PROOF_TOO_LONG"
    compute_root(bytes(32), [bytes(32)] * MAX_PROOF_LENGTH)  # the limit itself is fine


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = bytes(range(32))
    assert MerkleTree([bytearray(data)]).root == MerkleTree([memoryview(data)]).root == leaf_hash(data)


def test_proof_index_out_of_range() -> None:
    tree = MerkleTree([bytes(32)] * 3)
    with pytest.raises(IndexError):
        tree.proof(3)
    with pytest.raises(IndexError):
        tree.proof(-1)
