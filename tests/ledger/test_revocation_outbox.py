"""Issue 8, item 2: revocations go through the durable outbox like batches. A revocation is recorded before anyone
answers, sent by the worker from the agency's account with persisted steps, and survives a worker killed between
sending and confirming, a broadcast that never happened, a re-organisation that drops it (anvil), and a revocation
that failed for good (recorded again). Revocations recorded before the outbox existed are migrated into it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.chain.anchoring import Anchorer, WorkerConfig, pending_revocations
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import BatchState, RevocationTx
from ledger.chain.proof import RevocationReason
from ledger.documents.issuing import DocumentRevoked, DocumentRow, issue_document
from ledger.documents.receipt import Registry
from ledger.documents.revocation import revoke_document
from ledger.documents.status import get_document
from ledger.errors import ChainUnavailable
from tests.ledger import worker_proc
from tests.ledger.test_documents import META, SIGNER
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, anvil_rpc

NOW = datetime.now(UTC).replace(microsecond=0)


def issue(engine: Engine, registry: RegistryClient, account: LocalAccount, n: int = 1) -> list[str]:
    ids = []
    with Session(engine) as s:
        for i in range(n):
            issued = issue_document(
                s,
                agency_id="ubnd-hcm",
                signer=SIGNER,
                account_address=account.address,
                registry=Registry.of(registry.chain_id, registry.address),
                fields={**META, "number": f"{2392 + i}/QĐ-UBND", "issued_on": NOW.date().isoformat()},
                file_bytes=b"decision %d" % i,
                now=NOW,
                public_url="https://x.example",
            )
            ids.append(issued.id)
        s.commit()
    return ids


def revoke(engine: Engine, doc_id: str, reason: str = "annulled") -> None:
    with Session(engine) as s:
        row = s.get(DocumentRow, doc_id)
        assert row is not None
        revoke_document(s, row, agency_id="ubnd-hcm", reason=reason, note=None, replaced_by=None, now=NOW)
        s.commit()


def revocation(engine: Engine, doc_id: str) -> RevocationTx:
    with Session(engine) as s:
        return s.exec(select(RevocationTx).where(RevocationTx.document_id == doc_id)).one()


def broadcast(engine: Engine, registry: RegistryClient, doc_id: str) -> bool:
    """Whether the revocation is sent and in the node's mempool (the worker commits ``sent``, then broadcasts)."""
    row = revocation(engine, doc_id)
    return (
        row.state == BatchState.SENT
        and row.tx_hash is not None
        and registry.transaction_known(bytes.fromhex(row.tx_hash[2:]))
    )


def run_until(anchorer: Anchorer, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        report = anchorer.step(force=True)
        if not report.busy and done():
            return
        assert time.monotonic() < deadline, f"not done within {timeout} s: {report}"
        if not report.busy:
            time.sleep(0.05)


def all_done(engine: Engine) -> Callable[[], bool]:
    def check() -> bool:
        with Session(engine) as s:
            return pending_revocations(s) == 0 and all(
                get_document(s, d.id).proof is not None for d in s.exec(select(DocumentRow)).all()
            )

    return check


def chain_reason(registry: RegistryClient, engine: Engine, doc_id: str) -> int:
    with Session(engine) as s:
        proof = get_document(s, doc_id).proof
        account = get_document(s, doc_id).row.account
    assert proof is not None
    return registry.status(account, proof.root, proof.leaf).reason


def revoked_events(registry: RegistryClient) -> int:
    topic = registry.artifact.event_topic("Revoked")
    return len(registry.w3.eth.get_logs({"address": registry.address, "topics": [topic], "fromBlock": 0}))


# ------------------------------------------------------------------------------------------------- eth-tester
@pytest.fixture
def account(agency_accounts: list[LocalAccount]) -> LocalAccount:
    return agency_accounts[0]


def test_revocation_is_durable_before_anything_is_sent(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    (doc,) = issue(engine, registry, account)
    worker = Anchorer(engine, registry, {account.address: account}, WorkerConfig())
    run_until(worker, all_done(engine))
    revoke(engine, doc)  # what the API does before it answers 202: nothing is sent yet
    row = revocation(engine, doc)
    assert (row.state, row.tx_hash, row.reason) == (BatchState.BUILT, None, RevocationReason.ANNULLED)
    assert chain_reason(registry, engine, doc) == RevocationReason.NONE
    run_until(worker, all_done(engine))
    row = revocation(engine, doc)
    assert row.state == BatchState.CONFIRMED and row.tx_hash is not None and row.mined_at is not None
    assert chain_reason(registry, engine, doc) == RevocationReason.ANNULLED
    with Session(engine) as s:
        assert get_document(s, doc).status == "revoked"


class _DiesBeforeBroadcast:
    """The chain client of a worker that dies right after persisting ``sent`` and before broadcasting."""

    def __init__(self, inner: RegistryClient) -> None:
        self.inner = inner

    def send_raws(self, raws: Sequence[bytes]) -> None:
        raise ChainUnavailable("killed before the broadcast")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_revocation_persisted_but_never_broadcast_is_broadcast_again(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    (doc,) = issue(engine, registry, account)
    accounts = {account.address: account}
    run_until(Anchorer(engine, registry, accounts, WorkerConfig()), all_done(engine))
    revoke(engine, doc)
    dying = Anchorer(engine, _DiesBeforeBroadcast(registry), accounts, WorkerConfig())  # type: ignore[arg-type]
    assert dying.step().errors
    sent = revocation(engine, doc)
    assert sent.state == BatchState.SENT and sent.tx_hash is not None
    assert not registry.transaction_known(bytes.fromhex(sent.tx_hash[2:]))  # the node never saw it
    run_until(Anchorer(engine, registry, accounts, WorkerConfig()), all_done(engine))
    done = revocation(engine, doc)
    assert done.state == BatchState.CONFIRMED and done.tx_hash == sent.tx_hash  # the persisted bytes, sent again
    assert chain_reason(registry, engine, doc) == RevocationReason.ANNULLED


def test_revocation_that_failed_for_good_can_be_recorded_again(
    engine: Engine, registry: RegistryClient, account: LocalAccount
) -> None:
    (doc,) = issue(engine, registry, account)
    worker = Anchorer(engine, registry, {account.address: account}, WorkerConfig())
    run_until(worker, all_done(engine))
    revoke(engine, doc)
    with Session(engine) as s:  # what MAX_ATTEMPTS failures leave behind
        row = s.exec(select(RevocationTx)).one()
        row.state, row.attempts, row.last_error = BatchState.FAILED, 8, "transaction reverted"
        s.add(row)
        s.commit()
    with Session(engine) as s:
        assert get_document(s, doc).status == "anchored"
    revoke(engine, doc, reason="error")  # not DOC_ALREADY_REVOKED: the failed one is replaced
    row = revocation(engine, doc)
    assert (row.state, row.attempts, row.reason) == (BatchState.BUILT, 0, RevocationReason.ERROR)
    run_until(worker, all_done(engine))
    assert chain_reason(registry, engine, doc) == RevocationReason.ERROR


def test_revocations_recorded_before_the_outbox_are_migrated_into_it(tmp_path: Path) -> None:
    """Migration 0007: a revocation recorded by the old code becomes an outbox row the worker checks on chain."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0006")
    columns = (
        "id, agency_id, number, metadata_json, sha256, file_size, payload, commitment, account, chain_id, contract,"
        " created_at, revocation_reason, revoked_at, replaced_by, revocation_tx"
    )
    with engine.begin() as conn:
        old = [("A", b"\x01", "annulled", None), ("B", b"\x02", "replaced", "C" * 26), ("C", b"\x03", None, None)]
        for letter, byte, reason, replaced_by in old:
            doc_id, leaf = letter * 26, byte * 32
            conn.execute(
                text(
                    f"INSERT INTO ledger_document ({columns}) VALUES (:id, 'ubnd-hcm', '1/QĐ-UBND', '{{}}', 'ab', 0,"
                    " 'XD1:x', :leaf, :account, 31337, :contract, :at, :reason, :revoked, :replaced_by, :tx)"
                ),
                {
                    "id": doc_id,
                    "leaf": leaf,
                    "account": "0x" + "aa" * 20,
                    "contract": "0x" + "5e" * 20,
                    "at": "2026-03-01 09:00:00",
                    "reason": reason,
                    "revoked": None if reason is None else "2026-03-01 10:00:00",
                    "replaced_by": replaced_by,
                    "tx": None if reason is None else "0x" + "11" * 32,
                },
            )
    migrate(engine)
    with Session(engine) as s:
        rows = s.exec(select(RevocationTx).order_by(RevocationTx.id)).all()
        got = [(r.document_id, r.state, r.attempts, r.reason, r.replaced_by) for r in rows]
    engine.dispose()
    assert got == [
        ("A" * 26, BatchState.BUILT, 1, RevocationReason.ANNULLED, None),
        ("B" * 26, BatchState.BUILT, 1, RevocationReason.REPLACED, b"\x03" * 32),
    ]


# ------------------------------------------------------------------------------------------------------- anvil
@pytest.mark.anvil
def test_worker_killed_between_sending_and_confirming_a_revocation_resumes(
    engine: Engine,
    db_url: str,
    anvil: AnvilNode,
    anvil_registry: RegistryClient,
    agency_accounts: list[LocalAccount],
) -> None:
    account = agency_accounts[0]
    docs = issue(engine, anvil_registry, account, n=3)
    accounts = {account.address: account}
    run_until(Anchorer(engine, anvil_registry, accounts, WorkerConfig()), all_done(engine))
    anvil_rpc(anvil.url, "evm_setAutomine", [False])  # transactions wait in the mempool until we mine
    revoke(engine, docs[1])
    proc = worker_proc.spawn(db_url, anvil.url, anvil_registry.address, account)
    try:
        deadline = time.monotonic() + 60
        while not broadcast(engine, anvil_registry, docs[1]):  # killed between sending and confirming
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "worker died"
            assert time.monotonic() < deadline, "the worker did not send the revocation"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    sent = revocation(engine, docs[1])
    assert sent.state == BatchState.SENT and sent.block_number is None  # killed before any confirmation
    anvil_rpc(anvil.url, "evm_mine")
    run_until(Anchorer(engine, anvil_registry, accounts, WorkerConfig()), all_done(engine))
    done = revocation(engine, docs[1])
    assert done.state == BatchState.CONFIRMED and done.tx_hash == sent.tx_hash
    assert chain_reason(anvil_registry, engine, docs[1]) == RevocationReason.ANNULLED
    assert [chain_reason(anvil_registry, engine, d) for d in (docs[0], docs[2])] == [RevocationReason.NONE] * 2
    assert revoked_events(anvil_registry) == 1


@pytest.mark.anvil
def test_reorg_that_drops_a_revocation_is_detected_and_it_is_sent_again(
    engine: Engine, anvil: AnvilNode, anvil_registry: RegistryClient, agency_accounts: list[LocalAccount]
) -> None:
    account = agency_accounts[0]
    (doc,) = issue(engine, anvil_registry, account)
    worker = Anchorer(engine, anvil_registry, {account.address: account}, WorkerConfig(finality_depth=20))
    anvil_rpc(anvil.url, "anvil_mine", ["0x5"])  # keep the registry's deployment well below the re-org
    run_until(worker, all_done(engine))
    revoke(engine, doc)
    run_until(worker, all_done(engine))
    before = revocation(engine, doc)
    assert before.block_number == anvil_registry.block_number
    anvil_rpc(anvil.url, "anvil_reorg", [1, []])  # replace the revocation's block with an empty one
    dropped = chain_reason(anvil_registry, engine, doc)
    assert dropped == RevocationReason.NONE, "the re-org should have dropped the revocation"
    reorged = worker.step()
    assert reorged.reorged == 1
    with Session(engine) as s:
        view = get_document(s, doc)
        assert view.status == "anchored" and view.revocation is not None and view.revocation.state == "sent"
    run_until(worker, all_done(engine))
    after = revocation(engine, doc)
    assert after.state == BatchState.CONFIRMED and after.block_hash != before.block_hash
    assert chain_reason(anvil_registry, engine, doc) == RevocationReason.ANNULLED
    assert revoked_events(anvil_registry) == 1


def test_concurrent_revocations_of_one_document_record_one(
    engine: Engine, registry: RegistryClient, account: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests revoke the same document at once: the unique outbox row keeps one, the other is refused."""
    import ledger.documents.revocation as module

    (doc,) = issue(engine, registry, account)
    run_until(Anchorer(engine, registry, {account.address: account}, WorkerConfig()), all_done(engine))
    enqueue = module.enqueue_revocation

    def first_request_commits_in_between(*args: Any, **kwargs: Any) -> RevocationTx:
        monkeypatch.setattr(module, "enqueue_revocation", enqueue)
        revoke(engine, doc, reason="annulled")  # checked after the second request's check, written before its write
        return enqueue(*args, **kwargs)

    monkeypatch.setattr(module, "enqueue_revocation", first_request_commits_in_between)
    with Session(engine) as second:
        row = second.get(DocumentRow, doc)
        assert row is not None
        with pytest.raises(DocumentRevoked):
            revoke_document(second, row, agency_id="ubnd-hcm", reason="error", note=None, replaced_by=None, now=NOW)
    assert revocation(engine, doc).reason == RevocationReason.ANNULLED
