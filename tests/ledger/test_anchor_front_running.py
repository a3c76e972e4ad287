"""Issue 8, item 8: anyone could capture an agency's anchor by anchoring its (public) root first.

The registry keys anchors by agency and root, and revocations by agency, root and data, so a third party's anchor of
the same root is a record of its own: it neither blocks the agency's anchor nor counts as the agency's, and a
revocation inside it touches nothing of the agency's. Verifiers ask about the issuer's own account (the trust list's
``eth_address``), so a root anchored only by someone else verifies ``pending``, never ``valid``: on the chain, in
the chain index and in the offline bundle alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keys.bootstrap import City
from keys.generate import generate_signing_key
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from ledger.chain.index import ChainIndexer, IndexedStatusReader
from ledger.chain.merkle import MerkleTree, leaf_hash
from ledger.chain.outbox import AnchorBatch, BatchState, enqueue_many
from ledger.chain.proof import DocumentChainStatus, RevocationReason
from ledger.documents.issuing import DocumentRow
from tests.e2e.test_documents_e2e import Stack, stack  # noqa: F401  (the documents end-to-end stack)
from tests.ledger.test_anchoring import T0, Clock, leaves
from tests.ledger.test_chain_index import MAX_AGE, Issuer
from tests.ledger.test_chain_index import Clock as IndexClock
from tests.verifier.test_offline import LATER, NOW, REGISTRY, World, city  # noqa: F401  (the module's city)
from verifier.offline import Revocation, offline_bundle_payload, sign_offline_bundle, verify_offline
from verifier.offline import verify_offline_bundle as open_bundle
from xacthuc.offline_bundle import read_roots


# ------------------------------------------------------------------------------------------------- the worker
def test_front_run_anchor_does_not_block_the_agencys_batch(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """The third party anchors the batch's root first; the agency's batch still anchors, as its own record."""
    agency, intruder = agency_accounts[:2]
    data = leaves(2, salt="front-run")
    with Session(engine) as s:
        enqueue_many(s, agency.address, data, T0)
        s.commit()
    root = MerkleTree(data).root
    front = registry.anchor(intruder, root, 2)
    anchorer = Anchorer(engine, registry, {agency.address: agency}, WorkerConfig(batch_max=8), Clock())
    report = anchorer.step(force=True)
    assert report.errors == []
    with Session(engine) as s:
        (batch,) = s.exec(select(AnchorBatch)).all()
    assert batch.state == BatchState.CONFIRMED and batch.root == root
    record = registry.anchor_record(agency.address, root)
    assert record is not None and record.agency == agency.address and record.count == 2
    assert registry.find_anchor_tx(agency.address, root) == bytes.fromhex((batch.tx_hash or "")[2:])
    assert (
        registry.find_anchor_tx(intruder.address, root)
        == front.tx_hash
        != registry.find_anchor_tx(agency.address, root)
    )


# ------------------------------------------------------------------------------------------------ the readers
def test_root_anchored_only_by_a_front_runner_verifies_pending_never_valid(
    engine: Engine, registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """Directly on the chain and through the chain index, a third party's anchor (and a revocation in it) does not
    count for the issuer; the issuer's own anchor of the same root then verifies valid."""
    agency, intruder = agency_accounts[:2]
    issuer = Issuer(generate_signing_key("ES256"), agency, registry)
    batch = issuer.anchor(2, "captured")  # the issuer's receipts and proofs, anchored by the issuer...
    front_runner = Issuer(issuer.signer, intruder, registry)  # anchors the issuer's receipts from its own account
    root = batch.tree.root
    clock = IndexClock()
    indexer = ChainIndexer(engine, registry, clock)
    direct = registry
    index = IndexedStatusReader(engine, indexer, clock, MAX_AGE, fallback=direct)

    # ...and by the intruder, who also revokes document 0 inside its own anchor of the same root.
    registry.anchor(intruder, root, 2)
    registry.revoke(intruder, root, batch.leaves[0], batch.tree.proof(0), RevocationReason.ANNULLED)
    indexer.sync()
    for reader in (direct, index):
        assert issuer.verify(batch, 0, reader) == "valid"
        assert reader.status(intruder.address, root, batch.leaves[0]).revoked
        assert not reader.status(agency.address, root, batch.leaves[0]).revoked

    # A root only the intruder anchored: pending for the issuer, from the chain and from the index.
    lone = front_runner.anchor(2, "front-run only")
    indexer.sync()
    for reader in (direct, index, IndexedStatusReader(engine, indexer, clock, MAX_AGE)):
        assert reader.status(intruder.address, lone.tree.root, lone.leaves[0]).anchored_at is not None
        assert reader.status(agency.address, lone.tree.root, lone.leaves[0]).anchorer is None
        assert issuer.verify(lone, 0, reader) == "pending"


def test_a_reader_answering_for_another_account_is_anchorer_mismatch(
    registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    """Defence in depth: a reader that answers with another anchorer than the one asked about is not believed."""
    agency, intruder = agency_accounts[:2]
    issuer = Issuer(generate_signing_key("ES256"), agency, registry)
    batch = issuer.anchor(1, "liar")

    class Liar:
        def status(self, asked: str, root: bytes, data: bytes) -> DocumentChainStatus:
            return replace(registry.status(asked, root, data), anchorer=intruder.address)

    assert issuer.verify(batch, 0, Liar()) == "invalid"


# ------------------------------------------------------------------------------------------ an older registry
#: Creation code of a contract whose every call reverts, as a registry from an older build does for the calls it lacks.
REVERTING_CONTRACT = bytes.fromhex("6005600c60003960056000f3" + "60006000fd")


@pytest.mark.parametrize("backend", ["registry", pytest.param("anvil_registry", marks=pytest.mark.anvil)])
def test_a_registry_without_the_agency_keyed_interface_is_told_apart(
    request: pytest.FixtureRequest, backend: str, deployer: LocalAccount
) -> None:
    """A data dir's recorded registry from before this change cannot answer ``status(agency, root, data)``."""
    registry: RegistryClient = request.getfixturevalue(backend)
    assert registry.has_current_interface()
    signed = registry.sign(
        deployer, {"data": REVERTING_CONTRACT, "gas": 100_000}, registry.pending_nonce(deployer.address)
    )
    receipt = registry.wait_for_receipt(registry.send_raw(signed.raw), timeout=10)
    raw = registry.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
    assert receipt.ok and raw["contractAddress"]
    assert not RegistryClient(registry.w3, raw["contractAddress"]).has_current_interface()
    assert not RegistryClient(registry.w3, deployer.address).has_current_interface()  # no code at all


# --------------------------------------------------------------------------------------------- the offline bundle
def test_offline_bundle_answers_only_for_the_anchoring_agency(engine: Engine, city: City) -> None:  # noqa: F811
    with Session(engine, expire_on_commit=False) as session:
        w = World(session, city)
        doc_id, link = w.issue()
        w.anchor()
        (mine,) = read_roots(session)
        row = session.get(DocumentRow, doc_id)
        assert row is not None
        data = bytes(row.commitment)
    issuer = city.eth_address("ubnd-hcm").lower()
    intruder = "0x" + "b2" * 20
    assert mine.anchorer.lower() == issuer and mine.leaves == (leaf_hash(data),)

    def verdict(roots: list[Any], revocations: list[Revocation]) -> str:
        payload = offline_bundle_payload(
            trust_list=city.build_trust_list(NOW),
            status_lists={},
            registry=REGISTRY,
            block=42,
            roots=roots,
            revocations=revocations,
            now=NOW,
            ttl=timedelta(hours=24),
        )
        state = open_bundle(sign_offline_bundle(city.root_signer, payload), city.root_jwk(), LATER)
        return verify_offline(state, link, now=LATER).verdict.value

    def revoked_by(agency: str) -> Revocation:
        return Revocation(agency, mine.root, data, int(RevocationReason.ANNULLED), NOW, None, None)

    assert verdict([mine], []) == "valid"
    assert verdict([replace(mine, anchorer=intruder)], []) == "pending"  # the root, anchored by someone else only
    assert verdict([mine, replace(mine, anchorer=intruder)], [revoked_by(intruder)]) == "valid"
    assert verdict([mine], [revoked_by(issuer)]) == "revoked"


# ------------------------------------------------------------------------------------ end to end, on the node
@pytest.mark.anvil
def test_front_run_on_anvil_the_agencys_document_still_verifies_valid(
    stack: Stack,  # noqa: F811
    agency_accounts: list[LocalAccount],
) -> None:
    """The issue's reproduction: issue one document, anchor keccak256(0x00 || commitment) from another funded
    account first. The document verifies pending (not the intruder's anchor) until the agency's own anchor lands,
    then valid, with the agency's transaction as its anchor; the index and the offline bundle agree."""
    services = stack.services
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)  # synced by hand
    intruder = agency_accounts[1]
    doc = stack.issue()
    root = leaf_hash(bytes.fromhex(doc["receipt"]["commitment"].removeprefix("0x")))  # a one-document batch's root
    front = stack.registry.anchor(intruder, root, 1)
    indexer.sync()
    assert stack.verify(doc["verify_url"])["verdict"] == "pending"  # the intruder's anchor is not the document's

    stack.anchor()  # on the old registry, the agency's anchor reverted here and the batch failed
    indexer.sync()
    shown = stack.client.get(f"/v1/documents/{doc['id']}", headers=stack.auth("ubnd-hcm")).json()
    assert shown["status"] == "anchored" and shown["proof"]["root"] == "0x" + root.hex()
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "valid", report
    assert report["anchor"]["tx"] == shown["proof"]["tx_hash"] != "0x" + (front.tx_hash or b"").hex()
    anchored = next(c for c in report["checks"] if c["name"] == "anchored")
    assert anchored["data"]["chain_state"]["source"] == "index"

    bundle = stack.client.get("/v1/offline-bundle")
    assert bundle.status_code == 200, bundle.text
    state = open_bundle(bundle.text.strip().strip('"'), stack.city.root_jwk(), services.clock() + timedelta(minutes=1))
    assert [r.anchorer.lower() for r in state.roots.values()] == [stack.city.eth_address("ubnd-hcm").lower()]
    offline = verify_offline(state, doc["verify_url"], now=services.clock() + timedelta(minutes=1))
    assert offline.verdict.value == "valid"
