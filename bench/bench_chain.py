"""Gas of the DocumentRegistry on a fresh anvil node, and the speed of the Merkle tree.

``run()`` returns gas used (from receipts) for deploy, anchor (first and typical), revoke at batch sizes 1, 16,
256, 1,024 and 4,096 (proof lengths 0, 4, 8, 10, 12), and anchor gas per document at the same batch sizes; the same
sent by the city's relayer for an agency (``anchorFor``, ``revokeFor``: the gas model of issue 10); plus the time to
build a 100,000-leaf tree with all its proofs. Progress goes to stderr only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger.chain.client import RegistryClient
from ledger.chain.merkle import MerkleTree, keccak256
from ledger.chain.proof import RevocationReason
from xacthuc.devchain import AnvilNode, fund

BATCH_SIZES = (1, 16, 256, 1024, 4096)
OPENATTESTATION_ISSUE_GAS = 47_858  # DocumentStore.issue on the same anvil (issue #2)
ANCHOR_TARGET_GAS = 45_000


def _progress(message: str) -> None:
    print(f"bench_chain: {message}", file=sys.stderr, flush=True)


def _docs(label: str, n: int) -> list[bytes]:
    return [keccak256(f"{label} {i}".encode()) for i in range(n)]


def _anchor_gas(client: RegistryClient, account: LocalAccount, root: bytes, count: int) -> int:
    result = client.anchor(account, root, count)
    assert result.tx_hash is not None
    receipt = client.get_receipt(result.tx_hash)
    assert receipt is not None
    return receipt.gas_used


def _anchor_for_gas(client: RegistryClient, relayer: LocalAccount, agency: LocalAccount, root: bytes, n: int) -> int:
    result = client.anchor_for(relayer, agency, root, n)
    assert result.tx_hash is not None
    receipt = client.get_receipt(result.tx_hash)
    assert receipt is not None
    return receipt.gas_used


def _relayed(client: RegistryClient, relayer: LocalAccount, agency: LocalAccount) -> dict[str, Any]:
    """anchorFor and revokeFor: the relayer sends, the agency (which holds nothing) signs EIP-712."""
    out: dict[str, Any] = {}
    for size in BATCH_SIZES:
        _progress(f"relayed batch of {size}")
        data = _docs(f"relayed {size}", size)
        tree = MerkleTree(data)
        gas = _anchor_for_gas(client, relayer, agency, tree.root, size)
        index = size // 2
        proof = tree.proof(index)
        plain = client.revoke_for(relayer, agency, tree.root, data[index], proof, RevocationReason.ANNULLED)
        entry: dict[str, Any] = {
            "anchor_for_gas": gas,
            "gas_per_document": round(gas / size, 2),
            "proof_length": len(proof),
            "revoke_for_gas": plain.gas_used,
        }
        if size > 1:
            other = size - 1 - index if size - 1 - index != index else 0
            replaced = client.revoke_for(
                relayer, agency, tree.root, data[other], tree.proof(other), RevocationReason.REPLACED, keccak256(b"n")
            )
            entry["revoke_for_gas_with_replacement"] = replaced.gas_used
        out[str(size)] = entry
    return out


def _merkle_timing(leaves: int = 100_000) -> dict[str, Any]:
    data = [i.to_bytes(32, "big") for i in range(leaves)]
    start = time.perf_counter()
    tree = MerkleTree(data)
    built = time.perf_counter()
    tree.proofs()
    done = time.perf_counter()
    return {
        "leaves": leaves,
        "build_seconds": round(built - start, 3),
        "all_proofs_seconds": round(done - built, 3),
        "total_seconds": round(done - start, 3),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="xacthuc-bench-") as tmp:
        node = AnvilNode(state_file=Path(tmp) / "state.json")
        _progress("starting anvil")
        with node:
            return _measure(node)


def _measure(node: AnvilNode) -> dict[str, Any]:
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    deployer: LocalAccount = Account.create()
    agency: LocalAccount = Account.create()
    relayer: LocalAccount = Account.create()
    penniless: LocalAccount = Account.create()  # an agency of the relayed model: it signs and holds nothing
    for account in (deployer, agency, relayer):
        fund(node.url, account.address, 10**21)
    client = RegistryClient.deploy(w3, deployer, deployer.address)
    deploy_receipt = _deploy_receipt(client)
    _progress(f"deployed at {client.address}")

    first = _anchor_gas(client, agency, MerkleTree(_docs("first", 1)).root, 1)
    typical_runs = [_anchor_gas(client, agency, MerkleTree(_docs(f"typical {i}", 8)).root, 8) for i in range(10)]
    typical = int(statistics.median(typical_runs))

    per_document: dict[str, Any] = {}
    revoke: dict[str, Any] = {}
    for size in BATCH_SIZES:
        _progress(f"batch of {size}")
        data = _docs(f"batch {size}", size)
        tree = MerkleTree(data)
        gas = _anchor_gas(client, agency, tree.root, size)
        per_document[str(size)] = {"anchor_gas": gas, "gas_per_document": round(gas / size, 2)}
        index = size // 2
        proof = tree.proof(index)
        plain = client.revoke(agency, tree.root, data[index], proof, RevocationReason.ANNULLED)
        entry: dict[str, Any] = {"proof_length": len(proof), "gas": plain.gas_used}
        if size > 1:
            other = size - 1 - index if size - 1 - index != index else 0
            replaced = client.revoke(
                agency, tree.root, data[other], tree.proof(other), RevocationReason.REPLACED, keccak256(b"new")
            )
            entry["gas_with_replacement"] = replaced.gas_used
        revoke[str(size)] = entry

    relayed = _relayed(client, relayer, penniless)
    _progress("merkle timing (100,000 leaves)")
    return {
        "backend": "anvil",
        "compiler": client.artifact.compiler_version,
        "settings": {k: client.artifact.settings[k] for k in ("evmVersion", "optimizer", "viaIR")},
        "deploy_gas": deploy_receipt,
        "anchor_gas": {
            "first": first,
            "typical": typical,
            "target": ANCHOR_TARGET_GAS,
            "openattestation_issue": OPENATTESTATION_ISSUE_GAS,
            # What no implementation of this interface can go below (see contracts/README.md).
            "floor_estimate": 21_000 + 22_100 + 1_756 + 716,
        },
        "revoke_gas": revoke,
        "anchor_gas_per_document": per_document,
        "relayed": relayed,
        "merkle": _merkle_timing(),
    }


def _deploy_receipt(client: RegistryClient) -> int:
    w3 = client.w3
    block = w3.eth.get_block(client.from_block, full_transactions=True)
    for tx in block["transactions"]:
        receipt = w3.eth.get_transaction_receipt(tx["hash"])  # type: ignore[index]
        if receipt["contractAddress"] == client.address:
            return int(receipt["gasUsed"])
    raise RuntimeError("deployment receipt not found")


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
