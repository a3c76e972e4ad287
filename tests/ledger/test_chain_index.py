"""The chain index: events into tables, freshness (stale is never ``valid``), revocations after the next sync,
re-organisations rewound, the node down; and the server's verification of a just-revoked document."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keys.generate import generate_signing_key
from keys.protocols import Signer, TrustedKey
from ledger.chain.client import RegistryClient
from ledger.chain.index import (
    ChainCursor,
    ChainIndexer,
    ChainIndexStale,
    IndexedAnchor,
    IndexedRevocation,
    IndexedStatusReader,
)
from ledger.chain.merkle import MerkleTree
from ledger.chain.proof import DocumentChainStatus, Proof, RevocationReason
from ledger.documents.receipt import Receipt, ReceiptFields, Registry, commitment, sign_receipt
from ledger.errors import ChainUnavailable
from tests.e2e.test_documents_e2e import META as META_E2E
from tests.e2e.test_documents_e2e import Stack, stack  # noqa: F401  (the documents end-to-end stack)
from verifier.dispatch import VerifyRequest
from verifier.document import verify_document
from xacthuc.devchain import AnvilNode, anvil_rpc, mine
from xacthuc.metrics import PROCESS_REGISTRY
from xacthuc.server_verifier import ServerVerifier

MAX_AGE = timedelta(seconds=5)
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Batch:
    """Documents anchored in one root, with their receipts and proofs."""

    receipts: list[Receipt]
    tree: MerkleTree
    proofs: dict[bytes, Proof] = field(default_factory=dict)

    @property
    def leaves(self) -> list[bytes]:
        return [commitment(r) for r in self.receipts]


@dataclass
class Issuer:
    signer: Signer
    account: LocalAccount
    registry: RegistryClient

    @property
    def key(self) -> TrustedKey:
        return TrustedKey(
            issuer_id="ubnd-hcm",
            issuer_name="UBND TP.HCM",
            kid=self.signer.kid,
            alg=self.signer.alg,
            jwk=self.signer.public_jwk(),
            roles=frozenset({"documents"}),
            not_before=T0 - timedelta(days=1),
            not_after=None,
            status="active",
            eth_address=self.account.address,
        )

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return self.key if (issuer_id, kid) == ("ubnd-hcm", self.signer.kid) else None

    def keys_for(self, issuer_id: str) -> list[TrustedKey]:
        return [self.key] if issuer_id == "ubnd-hcm" else []

    def anchor(self, n: int, tag: str) -> Batch:
        registry = Registry.of(self.registry.chain_id, self.registry.address)
        receipts = [
            sign_receipt(
                self.signer,
                ReceiptFields(
                    issuer_id="ubnd-hcm",
                    document_id=hashlib.sha256(f"{tag} {i}".encode()).digest()[:16],
                    file_sha256=hashlib.sha256(f"file {tag} {i}".encode()).digest(),
                    metadata_digest=bytes(32),
                    issued_at=T0,
                    registry=registry,
                    number=f"{i + 1}/QĐ-UBND",
                    issued_on=T0.date(),
                ),
            )
            for i in range(n)
        ]
        batch = Batch(receipts, MerkleTree([commitment(r) for r in receipts]))
        result = self.registry.anchor(self.account, batch.tree.root, n, timeout=30)
        for leaf, path in zip(batch.leaves, batch.tree.proofs(), strict=True):
            batch.proofs[leaf] = Proof(
                batch.tree.root,
                tuple(path),
                leaf,
                registry.chain_id,
                registry.hex_address,
                "0x" + (result.tx_hash or bytes(32)).hex(),
                result.block_number or 0,
                result.record.anchored_at,
            )
        return batch

    def revoke(self, batch: Batch, i: int, reason: int = 1, replaced_by: bytes | None = None) -> None:
        proof = batch.proofs[batch.leaves[i]]
        self.registry.revoke(self.account, proof.root, proof.leaf, proof.path, reason, replaced_by, timeout=30)

    def verify(self, batch: Batch, i: int, chain: Any) -> str:
        report = verify_document(
            batch.receipts[i],
            resolver=self,
            proof_source=batch.proofs.get,
            chain=chain,
            now=T0 + timedelta(minutes=1),
        )
        return report.verdict.value


@pytest.fixture
def issuer(anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]) -> Issuer:
    return Issuer(generate_signing_key("ES256"), agency_accounts[0], anvil_registry)


def direct(registry: RegistryClient, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
    return registry.status(agency, root, data)


def same(a: DocumentChainStatus, b: DocumentChainStatus) -> bool:
    lower = (a.anchorer or "").lower() == (b.anchorer or "").lower()
    return lower and (a.anchored_at, a.reason, a.revoked_at, a.replaced_by) == (
        b.anchored_at,
        b.reason,
        b.revoked_at,
        b.replaced_by,
    )


# ------------------------------------------------------------------------------------------------ without anvil
def test_eth_tester_backend_indexes_too(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    issuer = Issuer(generate_signing_key("ES256"), agency_accounts[0], registry)
    batch = issuer.anchor(3, "tester")
    issuer.revoke(batch, 1, reason=2, replaced_by=batch.leaves[2])
    clock = Clock()
    indexer = ChainIndexer(engine, registry, clock, log_range=2)  # several ranges
    state = indexer.sync()
    assert state.block == registry.block_number and state.synced_at == T0
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    agency = issuer.account.address
    for leaf in batch.leaves:
        assert same(reader.status(agency, batch.tree.root, leaf), direct(registry, agency, batch.tree.root, leaf))
    assert reader.status(agency, batch.tree.root, batch.leaves[1]).replaced_by == batch.leaves[2]


def test_the_tables_hold_one_registry(engine: Engine, registry: RegistryClient, deployer: LocalAccount) -> None:
    clock = Clock()
    ChainIndexer(engine, registry, clock).sync()
    other = RegistryClient.deploy(registry.w3, deployer, deployer.address, timeout=10)
    ChainIndexer(engine, other, clock).sync()
    with Session(engine) as s:
        assert [c.contract for c in s.exec(select(ChainCursor)).all()] == [other.address.lower()]


# -------------------------------------------------------------------------------------------------- with anvil
@pytest.mark.anvil
def test_anchors_and_revocations_appear_after_sync(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    indexer.sync()
    batch = issuer.anchor(4, "first")
    root = batch.tree.root
    agency = issuer.account.address
    assert (
        reader.status(agency, root, batch.leaves[0]).anchorer is None
    )  # not synced yet: not on chain as far as we know
    issuer.revoke(batch, 0)
    issuer.revoke(batch, 1, reason=int(RevocationReason.REPLACED), replaced_by=batch.leaves[3])
    state = indexer.sync()
    assert state.block == issuer.registry.block_number
    with Session(engine) as s:
        (row,) = s.exec(select(IndexedAnchor)).all()
        assert (row.root, row.count, row.agency) == (root, 4, agency.lower())
        assert len(s.exec(select(IndexedRevocation)).all()) == 2
    for leaf in batch.leaves:
        assert same(reader.status(agency, root, leaf), direct(issuer.registry, agency, root, leaf))
    verdicts = [issuer.verify(batch, i, reader) for i in range(4)]
    assert verdicts == ["revoked", "superseded", "valid", "valid"]
    _, source = reader.read(agency, root, batch.leaves[2])
    assert (source.source, source.block, source.synced_at) == ("index", state.block, T0)


@pytest.mark.anvil
def test_stale_index_is_error_never_valid(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    batch = issuer.anchor(2, "stale")
    indexer.sync()
    assert issuer.verify(batch, 0, reader) == "valid"
    clock.advance(MAX_AGE.total_seconds())
    assert issuer.verify(batch, 0, reader) == "valid"  # exactly max_age old: still fresh
    clock.advance(0.001)
    with pytest.raises(ChainIndexStale):
        reader.status(issuer.account.address, batch.tree.root, batch.leaves[0])
    assert issuer.verify(batch, 0, reader) == "error"
    # With a fallback the chain itself answers, and the answer is fresh by definition.
    fallback = IndexedStatusReader(engine, indexer, clock, MAX_AGE, fallback=issuer.registry)
    assert issuer.verify(batch, 0, fallback) == "valid"
    assert fallback.read(issuer.account.address, batch.tree.root, batch.leaves[0])[1].source == "chain"
    indexer.sync()  # synced again: fresh again
    assert issuer.verify(batch, 0, reader) == "valid"


@pytest.mark.anvil
def test_a_root_anchored_since_the_last_sync_is_asked_of_the_chain(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    indexer.sync()
    batch = issuer.anchor(2, "new")
    index_only = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    assert issuer.verify(batch, 0, index_only) == "pending"  # ROOT_NOT_ON_CHAIN, as far as the index knows
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE, fallback=issuer.registry)
    assert issuer.verify(batch, 0, reader) == "valid"
    assert reader.read(issuer.account.address, batch.tree.root, batch.leaves[0])[1].source == "chain"
    indexer.sync()
    assert reader.read(issuer.account.address, batch.tree.root, batch.leaves[0])[1].source == "index"


@pytest.mark.anvil
def test_never_synced_index_is_stale(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    with pytest.raises(ChainIndexStale):
        reader.status("0x" + "00" * 20, bytes(32), bytes(32))
    indexer.load()  # a cursor without a sync is still stale
    with pytest.raises(ChainIndexStale):
        reader.status("0x" + "00" * 20, bytes(32), bytes(32))


@pytest.mark.anvil
def test_revocation_on_chain_shows_after_the_next_sync(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    batch = issuer.anchor(3, "revoke")
    indexer.sync()
    assert issuer.verify(batch, 2, reader) == "valid"
    issuer.revoke(batch, 2, reason=int(RevocationReason.ERROR))
    clock.advance(1)
    indexer.sync()
    assert issuer.verify(batch, 2, reader) == "revoked"
    assert reader.status(issuer.account.address, batch.tree.root, batch.leaves[2]).reason == RevocationReason.ERROR


@pytest.mark.anvil
def test_reorg_that_drops_an_indexed_anchor_is_rewound(engine: Engine, anvil: AnvilNode, issuer: Issuer) -> None:
    mine(anvil.url, 5)  # keep the registry's deployment below the re-organised blocks
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock, reorg_depth=3)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    kept = issuer.anchor(2, "kept")
    mine(anvil.url, 4)  # below the rewind's safe point (the cursor - 3 blocks)
    dropped = issuer.anchor(2, "dropped")
    before = indexer.sync()
    assert issuer.verify(dropped, 0, reader) == "valid"
    anvil_rpc(anvil.url, "anvil_reorg", [1, []])  # replace the anchor's block with an empty one
    assert issuer.registry.anchor_record(issuer.account.address, dropped.tree.root) is None, (
        "the re-org should have dropped the anchor"
    )
    after = indexer.sync()
    assert indexer.rewinds == 1
    assert after.block == before.block and after.block_hash != before.block_hash
    assert issuer.verify(dropped, 0, reader) == "pending"  # ROOT_NOT_ON_CHAIN: exactly what the chain says
    assert reader.status(issuer.account.address, dropped.tree.root, dropped.leaves[0]).anchorer is None
    assert issuer.verify(kept, 0, reader) == "valid"


@pytest.mark.anvil
def test_reorg_that_drops_a_revocation_is_rewound(engine: Engine, anvil: AnvilNode, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE)
    batch = issuer.anchor(2, "unrevoked")
    mine(anvil.url, 2)
    issuer.revoke(batch, 0)
    indexer.sync()
    assert issuer.verify(batch, 0, reader) == "revoked"
    anvil_rpc(anvil.url, "anvil_reorg", [1, []])
    indexer.sync()
    agency, root, leaf = issuer.account.address, batch.tree.root, batch.leaves[0]
    assert same(reader.status(agency, root, leaf), direct(issuer.registry, agency, root, leaf))
    assert issuer.verify(batch, 0, reader) == "valid"


@pytest.mark.anvil
def test_chain_down_and_stale_index_is_error(engine: Engine, anvil: AnvilNode, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE, fallback=issuer.registry)
    batch = issuer.anchor(2, "down")
    indexer.sync()
    assert issuer.verify(batch, 0, reader) == "valid"
    anvil.kill()
    clock.advance(MAX_AGE.total_seconds() + 1)
    with pytest.raises(ChainUnavailable):
        indexer.sync()
    with pytest.raises(ChainUnavailable):
        reader.status(issuer.account.address, batch.tree.root, batch.leaves[0])
    assert issuer.verify(batch, 0, reader) == "error"


# ----------------------------------------------------------------------------------------------- through the server
@pytest.mark.anvil
def test_server_reports_a_just_revoked_document_within_one_sync(stack: Stack) -> None:  # noqa: F811
    services = stack.services
    # An hour of freshness: however slow this machine, the answers below come from the index, not the fallback.
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)  # synced by hand
    doc = stack.issue()
    stack.anchor()
    indexer.sync()
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "valid"
    state = next(c for c in report["checks"] if c["name"] == "not_revoked")["data"]["chain_state"]
    assert state["source"] == "index" and state["block"] == stack.registry.block_number
    r = stack.client.post(
        f"/v1/documents/{doc['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text
    stack.anchor()  # the worker sends the revocation
    indexer.sync()
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "revoked"
    check = next(c for c in report["checks"] if c["name"] == "not_revoked")
    assert check["code"] == "DOC_REVOKED"
    assert check["data"]["chain_state"]["block"] == stack.registry.block_number
    assert f"current to block {stack.registry.block_number}" in check["message"]


@pytest.mark.anvil
def test_a_read_that_may_not_wait_gives_up_where_the_chain_would_answer(engine: Engine, issuer: Issuer) -> None:
    clock = Clock()
    indexer = ChainIndexer(engine, issuer.registry, clock)
    reader = IndexedStatusReader(engine, indexer, clock, MAX_AGE, fallback=issuer.registry)
    batch = issuer.anchor(2, "no-wait")
    agency, root, leaf = issuer.account.address, batch.tree.root, batch.leaves[0]
    assert reader.read(agency, root, leaf, None, fallback=False) is None  # anchored since the last sync
    indexer.sync()
    found = reader.read(agency, root, leaf, None, fallback=False)
    assert found is not None and found[1].source == "index"
    assert same(found[0], direct(issuer.registry, agency, root, leaf))
    clock.advance(MAX_AGE.total_seconds() + 1)
    assert reader.read(agency, root, leaf, None, fallback=False) is None  # stale: only the chain could answer
    assert reader.read(agency, root, leaf)[1].source == "chain"


def _verdict_count(kind: str, verdict: str) -> float:
    value = PROCESS_REGISTRY.get_sample_value("xacthuc_verifications_total", {"kind": kind, "verdict": verdict})
    return value or 0.0


@pytest.mark.anvil
def test_server_verifies_on_the_event_loop_only_from_local_fresh_state(stack: Stack) -> None:  # noqa: F811
    services = stack.services
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)
    doc = stack.issue()
    stack.anchor()
    verifier = ServerVerifier(services)
    request = VerifyRequest(payload=doc["verify_url"])
    assert verifier.verify_now(request) is None  # the registry not yet read: that may wait on the node
    in_thread = verifier(request)
    assert in_thread.verdict.value == "valid"
    assert verifier.verify_now(request) is None  # anchored since the last sync: only the chain can answer
    indexer.sync()
    before = _verdict_count("document", "valid")
    now = verifier.verify_now(request)
    if services.engine.dialect.name != "sqlite":
        assert now is None  # a PostgreSQL round trip would stall the event loop
        return
    assert now is not None
    assert _verdict_count("document", "valid") == before + 1  # counted once, like any answered verification
    assert [(c.name, c.status, c.code) for c in now.checks] == [
        (c.name, c.status, c.code) for c in verifier(request).checks
    ]
    # Stale again: it gives up without counting, and the route answers from the chain in a worker thread.
    services.settings = services.settings.model_copy(update={"index_max_age": 0.0})
    before = _verdict_count("document", "valid")
    assert ServerVerifier(services).verify_now(request) is None
    assert _verdict_count("document", "valid") == before
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "valid"
    assert next(c for c in report["checks"] if c["name"] == "not_revoked")["data"]["chain_state"]["source"] == "chain"


@pytest.mark.anvil
def test_server_never_answers_valid_for_a_revocation_it_recorded_but_the_chain_lacks(stack: Stack) -> None:  # noqa: F811
    """The revocation is accepted (or was re-organised out of the chain): until the worker's transaction is on chain
    again, the server's own record answers, never ``valid``."""
    services = stack.services
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)
    old, new = stack.issue(), stack.issue({**META_E2E, "number": "2393/QĐ-UBND"})
    stack.anchor()
    indexer.sync()
    assert stack.verify(old["verify_url"])["verdict"] == "valid"
    r = stack.client.post(
        f"/v1/documents/{old['id']}/revoke", json={"replaced_by": new["id"]}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text  # recorded; the worker has not sent it
    report = stack.verify(old["verify_url"])
    assert report["verdict"] == "superseded"
    check = next(c for c in report["checks"] if c["name"] == "not_revoked")
    assert check["code"] == "DOC_SUPERSEDED" and check["data"]["revocation_source"] == "server_record"
    assert "own record" in check["message"]
    stack.anchor()  # the worker sends it; once indexed, the chain answers by itself
    indexer.sync()
    report = stack.verify(old["verify_url"])
    assert report["verdict"] == "superseded"
    check = next(c for c in report["checks"] if c["name"] == "not_revoked")
    assert "revocation_source" not in check["data"] and check["data"]["chain_state"]["source"] == "index"
    assert stack.verify(new["verify_url"])["verdict"] == "valid"
