"""Merkle trees of documents, with the rule the DocumentRegistry contract checks on chain.

The rule (fixed; contracts/DocumentRegistry.sol implements it bit for bit, tests/vectors/merkle proves it):

- ``leaf_hash(data) = keccak256(0x00 || data)`` for 32-byte ``data``;
- ``node_hash(a, b) = keccak256(0x01 || min(a, b) || max(a, b))``, bytewise order, which is uint256 order;
- level 0 holds the leaf hashes in the given order; nodes pair up (0, 1), (2, 3), ...; an odd last node is promoted
  unchanged to the next level; the root of one leaf is its leaf hash;
- the proof of leaf ``i`` lists its siblings from the leaf level upward (a promoted node has none at that level).

The prefixes keep an inner node from ever passing as a leaf (a second-preimage attack on the tree), and sorted pairs
make proofs need no direction bits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keys.limits import MERKLE_PROOF_NODES
from ledger.errors import EmptyMerkleTree, MerkleInputError, ProofTooLong

__all__ = [
    "HASH_SIZE",
    "MAX_PROOF_LENGTH",
    "MerkleTree",
    "Proof",
    "compute_root",
    "keccak256",
    "leaf_hash",
    "node_hash",
    "verify_proof",
]

HASH_SIZE = 32
MAX_PROOF_LENGTH = MERKLE_PROOF_NODES

Proof = tuple[bytes, ...]


def _load_keccak() -> Callable[[bytes], bytes]:
    # safe-pysha3 hashes a 65-byte node about 8 times faster than pycryptodome (per-call overhead dominates here);
    # eth-tester[py-evm] brings it in. Production falls back to eth-hash's pycryptodome backend: same digests.
    try:
        from sha3 import keccak_256  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        from eth_hash.auto import keccak

        return keccak

    def keccak_pysha3(data: bytes) -> bytes:
        return keccak_256(data).digest()  # type: ignore[no-any-return,unused-ignore]

    return keccak_pysha3


keccak256: Callable[[bytes], bytes] = _load_keccak()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise MerkleInputError(f"{what} must be {HASH_SIZE} bytes, not {type(value).__name__}")
    value = bytes(value)
    if len(value) != HASH_SIZE:
        raise MerkleInputError(f"{what} must be {HASH_SIZE} bytes, not {len(value)}")
    return value


def leaf_hash(data: bytes) -> bytes:
    """Hash of the leaf for 32-byte document data: keccak256(0x00 || data)."""
    return keccak256(_LEAF_PREFIX + _check_hash(data, "leaf data"))


def node_hash(a: bytes, b: bytes) -> bytes:
    """Hash of the inner node over two child hashes, in either order: keccak256(0x01 || min || max)."""
    a = _check_hash(a, "node")
    b = _check_hash(b, "node")
    return keccak256(_NODE_PREFIX + a + b if a <= b else _NODE_PREFIX + b + a)


def _parent_level(level: list[bytes]) -> list[bytes]:
    # The hot loop of tree building: no validation (children are our own digests), local names only.
    k = keccak256
    p = _NODE_PREFIX
    parents = [k(p + a + b if a <= b else p + b + a) for a, b in zip(level[0::2], level[1::2], strict=False)]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


class MerkleTree:
    """A Merkle tree over 32-byte document data, in the given order. Building hashes every node once."""

    __slots__ = ("_levels",)

    def __init__(self, data: Sequence[bytes]) -> None:
        if len(data) == 0:
            raise EmptyMerkleTree()
        items = [
            item if type(item) is bytes and len(item) == HASH_SIZE else _check_hash(item, f"leaf data {index}")
            for index, item in enumerate(data)
        ]
        k = keccak256
        p = _LEAF_PREFIX
        leaves = [k(p + item) for item in items]
        levels = [leaves]
        while len(levels[-1]) > 1:
            levels.append(_parent_level(levels[-1]))
        self._levels = levels

    def __len__(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle root (the leaf hash itself for a one-leaf tree)."""
        return self._levels[-1][0]

    @property
    def leaf_hashes(self) -> list[bytes]:
        """The leaf hashes, in leaf order (a copy)."""
        return list(self._levels[0])

    def proof(self, index: int) -> Proof:
        """The sibling hashes of leaf ``index`` from the leaf level upward."""
        size = len(self._levels[0])
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} out of range for a tree of {size} leaves")
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return tuple(path)

    def proofs(self) -> list[Proof]:
        """Every leaf's proof, in leaf order: O(n log n) and a few list operations per node."""
        # Top-down: the proof of a node is its sibling (if any) followed by its parent's proof. Tuples are
        # immutable, so a promoted node shares its parent's proof instead of copying it.
        above: list[Proof] = [()]
        for level in reversed(self._levels[:-1]):
            size = len(level)
            below: list[Proof] = []
            append = below.append
            for i in range(0, size - 1, 2):
                parent = above[i >> 1]
                append((level[i + 1], *parent))
                append((level[i], *parent))
            if size % 2:
                append(above[size >> 1])
            above = below
        return above

    def to_bytes(self) -> bytes:
        """Every node, level by level from the leaves up, after a 4-byte leaf count: the whole tree, stored once
        per batch, from which any leaf's proof is read without rehashing."""
        return len(self._levels[0]).to_bytes(4, "big") + b"".join(b"".join(level) for level in self._levels)

    @classmethod
    def from_bytes(cls, blob: bytes) -> MerkleTree:
        """The tree ``to_bytes`` wrote. Checks the shape, not the hashes (the blob is our own stored data)."""
        if len(blob) < 4 + HASH_SIZE:
            raise MerkleInputError("a stored tree is too short")
        size = int.from_bytes(blob[:4], "big")
        levels: list[list[bytes]] = []
        offset = 4
        while True:
            end = offset + size * HASH_SIZE
            if size == 0 or end > len(blob):
                raise MerkleInputError("a stored tree is truncated")
            levels.append([blob[i : i + HASH_SIZE] for i in range(offset, end, HASH_SIZE)])
            offset = end
            if size == 1:
                break
            size = (size + 1) // 2
        if offset != len(blob):
            raise MerkleInputError("a stored tree has trailing bytes")
        tree = cls.__new__(cls)
        tree._levels = levels
        return tree

    def index_of(self, data: bytes) -> int:
        """The position of the document ``data`` among the leaves (ValueError when absent)."""
        return self._levels[0].index(leaf_hash(data))


def compute_root(data: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from the document ``data``: compare it with the anchored root."""
    if len(proof) > MAX_PROOF_LENGTH:
        raise ProofTooLong(len(proof), MAX_PROOF_LENGTH)
    k = keccak256
    p = _NODE_PREFIX
    node = leaf_hash(data)
    for position, item in enumerate(proof):
        sibling = _check_hash(item, f"proof node {position}")
        node = k(p + node + sibling if node <= sibling else p + sibling + node)
    return node


def verify_proof(root: bytes, data: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` proves the document ``data`` under ``root`` (malformed input raises)."""
    return compute_root(data, proof) == _check_hash(root, "root")
