"""The contract's proof check agrees with ledger/merkle.py on every shared vector (Python-built proofs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree
from ledger.chain.proof import RevocationReason
from ledger.errors import InvalidProof

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "merkle"
VECTOR_FILES = sorted(VECTORS.glob("*.json"))


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_vector_on_chain(registry: RegistryClient, path: Path) -> None:
    vector = load(path)
    root = unhex(vector["root"])
    for data, proof in zip(vector["data"], vector["proofs"], strict=True):
        assert registry.verify_proof_on_chain(root, unhex(data), [unhex(x) for x in proof])
    for check in vector["checks"]:
        ok = registry.verify_proof_on_chain(root, unhex(check["data"]), [unhex(x) for x in check["proof"]])
        assert ok is check["valid"], check["why"]


@pytest.mark.parametrize("name", ["leaves_13", "tampered_proof", "inner_node_as_leaf"])
def test_vector_revocations(registry: RegistryClient, agency_accounts: list[LocalAccount], name: str) -> None:
    """revoke() accepts exactly what the vectors call valid, and refuses the rest with InvalidProof."""
    vector = load(VECTORS / f"{name}.json")
    agency = agency_accounts[0]
    data = [unhex(d) for d in vector["data"]]
    root = unhex(vector["root"])
    assert MerkleTree(data).root == root
    registry.anchor(agency, root, len(data))
    for check in vector["checks"]:
        proof = [unhex(x) for x in check["proof"]]
        if check["valid"]:
            registry.revoke(agency, root, unhex(check["data"]), proof, RevocationReason.OTHER)
        else:
            with pytest.raises(InvalidProof):
                registry.revoke(agency, root, unhex(check["data"]), proof, RevocationReason.OTHER)
    last = len(data) - 1
    if not registry.status(agency.address, root, data[last]).revoked:
        registry.revoke(agency, root, data[last], [unhex(x) for x in vector["proofs"][last]], 1)
    assert registry.status(agency.address, root, data[last]).revoked


def test_too_long_proof_is_refused_on_chain(registry: RegistryClient) -> None:
    tree = MerkleTree([bytes(32)])
    assert registry.verify_proof_on_chain(tree.root, bytes(32), [])
    # 65 nodes never verify, even if the hashing would: the contract refuses before hashing.
    eth_call = registry.w3.eth.call
    data = registry.artifact.encode_call("verifyProof", tree.root, bytes(32), [bytes(32)] * 65)
    (ok,) = registry.artifact.decode_output("verifyProof", bytes(eth_call({"to": registry.address, "data": data})))
    assert ok is False
