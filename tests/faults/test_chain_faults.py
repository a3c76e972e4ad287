"""Issue 15, faults of the chain under a steady load of issuing and verifying: it stalls, it re-organises deeply, and
it comes back with a gap (the node restarts from an older persisted state). Each test then reconciles: every document
answered 201 is stored and anchored exactly once, every accepted revocation is on chain exactly once, and no
verification said ``valid`` for a document that was not on chain at the moment it reflected.

The hung node (SIGSTOP) is ``tests/xacthuc/test_hung_node.py``; a shallow re-organisation of one revocation is
``tests/e2e/test_revocation_reorg.py``. These run the real server (``build_services(role=SERVER)``: the relayer, the
anchoring worker and the chain indexer as threads, uvicorn on a socket) over a real anvil.

``BENCH_FAULTS_LONG=1`` adds the stall of a whole minute (the issue's figure); ``make test`` stalls for 20 s.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from ledger.chain.outbox import AnchorBatch, BatchState, RevocationTx
from tests.faults._chain_faults import (
    Load,
    Served,
    assert_clean,
    reconcile,
    serve_city,
    until,
    valid_after,
)
from xacthuc.devchain import AnvilNode, anvil_rpc, mine

pytestmark = [pytest.mark.fault, pytest.mark.anvil, pytest.mark.slow]

SEED = 1515
LONG = os.environ.get("BENCH_FAULTS_LONG") == "1"


def _anchored(served: Served, load: Load) -> list[str]:
    """Documents of the load that the service shows anchored now (and not revoked)."""
    out = []
    for doc in list(load.issued):
        r = served.get(doc.id)
        if r.status_code == 200 and r.json()["status"] == "anchored":
            out.append(doc.id)
    return out


def _on_chain(served: Served, doc_id: str) -> bool:
    proof = served.get(doc_id).json().get("proof")
    if proof is None:
        return False
    root, leaf = bytes.fromhex(proof["root"][2:]), bytes.fromhex(proof["leaf"][2:])
    return served.registry.status(served.agency_address, root, leaf).anchorer is not None


def _revoke_some(served: Served, anchored: list[str], n: int) -> set[str]:
    revoked = set()
    for doc_id in anchored[:n]:
        r = served.revoke(doc_id)
        assert r.status_code == 202, r.text
        revoked.add(doc_id)
    return revoked


def _revocations_confirmed(served: Served) -> bool:
    with Session(served.services.engine) as s:
        states = s.exec(select(RevocationTx.state)).all()
    return bool(states) and all(st in (BatchState.CONFIRMED, BatchState.FINAL) for st in states)


def _block(served: Served) -> int:
    return int(anvil_rpc(served.anvil.url, "eth_blockNumber"), 16)


def _not_valid_now(served: Served, doc_ids: set[str]) -> list[str]:
    """Verifies each document now; returns those that said ``valid``."""
    return [d for d in sorted(doc_ids) if served.verify(_url(served, d))["verdict"] == "valid"]


def _url(served: Served, doc_id: str) -> str:
    return str(served.get(doc_id).json()["verify_url"])


@pytest.mark.parametrize(
    "stall_seconds",
    [
        pytest.param(20, id="20s"),
        pytest.param(60, id="minute", marks=pytest.mark.skipif(not LONG, reason="bench: BENCH_FAULTS_LONG=1")),
    ],
)
def test_chain_stall_keeps_new_documents_pending_and_anchors_them_once_it_resumes(
    tmp_path: Path, anvil: AnvilNode, deployer: Any, stall_seconds: int
) -> None:
    with serve_city(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", anvil, deployer) as served:
        load = Load(served, SEED)
        with load:
            until(lambda: len(_anchored(served, load)) >= 3, "nothing was anchored before the stall")
            anvil_rpc(anvil.url, "evm_setAutomine", [False])  # no new blocks from here on
            stalled_at, head = time.time(), _block(served)
            until(
                lambda: time.time() > stalled_at + stall_seconds and sum(d.at > stalled_at for d in load.issued) >= 5,
                "the load stopped during the stall",
                timeout=stall_seconds + 60,
                poll=0.5,
            )
            assert _block(served) == head  # the chain really stalled
            during = {d.id for d in load.issued if d.at > stalled_at}
            assert _not_valid_now(served, during) == []  # pending while nothing can be on chain
            assert {served.get(d).json()["status"] for d in during} == {"pending"}
            anvil_rpc(anvil.url, "evm_setAutomine", [True])  # blocks again: what waited is mined
            resumed_at = time.time()
            until(lambda: all(_on_chain(served, d) for d in during), "the stalled documents were never anchored")
            until(lambda: sum(d.at > resumed_at for d in load.issued) >= 3, "the load did not go on after the stall")
        figures = reconcile(served, load)
    figures.faults = 1
    figures.wrong_verdicts += [f"{s.doc_id} valid during the stall" for s in valid_after(load, during, 0, resumed_at)]
    assert_clean(figures, f"chain stall {stall_seconds}s", SEED, allowed_codes=set())


def test_chain_reorganised_deeply_reanchors_everything_once_and_revocations_reach_it_again(
    tmp_path: Path, anvil: AnvilNode, deployer: Any
) -> None:
    with serve_city(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", anvil, deployer) as served:
        load = Load(served, SEED)
        with load:
            until(lambda: len(_anchored(served, load)) >= 8, "nothing was anchored before the re-organisation")
            revoked = _revoke_some(served, _anchored(served, load), 3)
            until(lambda: _revocations_confirmed(served), "the revocations were never confirmed")
            with Session(served.services.engine) as s:
                first = s.exec(select(func.min(AnchorBatch.block_number))).one()
            assert first is not None
            mine(anvil.url, 15)  # deeper than XACTHUC_FINALITY_DEPTH: the service sees the first ones final
            until(lambda: _final_up_to(served, 1, 0), "the first anchor never became final")
            on_chain = {d for d in _anchored(served, load) if _on_chain(served, d)} | revoked
            depth = _block(served) - first + 1  # every anchor and revocation the service has seen
            assert 10 <= depth < 64, depth  # deep, and within the index's documented REORG_DEPTH
            rewinds = served.services.indexer.rewinds if served.services.indexer else 0
            anvil_rpc(anvil.url, "evm_setAutomine", [False])  # hold the new chain still while we look at it
            anvil_rpc(anvil.url, "anvil_reorg", [depth, []])  # replaced blocks: every anchor and revocation gone
            reorged_at = time.time()
            vanished = {d for d in on_chain if not _on_chain(served, d)}
            assert vanished == on_chain, "the re-organisation left anchors on chain"
            until(lambda: served.services.indexer.rewinds > rewinds, "the index never saw the re-organisation")  # type: ignore[union-attr]
            assert _not_valid_now(served, vanished) == []
            anvil_rpc(anvil.url, "evm_setAutomine", [True])
            resumed_at = time.time()
            until(lambda: all(_on_chain(served, d) for d in vanished), "the vanished documents were never re-anchored")
            until(lambda: sum(d.at > resumed_at for d in load.issued) >= 3, "the load did not go on after the re-org")
        figures = reconcile(served, load, revoked)
        for doc_id in revoked:
            assert served.verify(_url(served, doc_id))["verdict"] == "revoked"
    figures.faults = 1
    wrong = valid_after(load, vanished, reorged_at, resumed_at)
    figures.wrong_verdicts += [f"{s.doc_id} valid while its anchor was re-organised away" for s in wrong]
    assert_clean(figures, "chain re-org", SEED, allowed_codes=set())


def test_chain_back_with_a_gap_reanchors_what_vanished_and_never_says_valid_meanwhile(
    tmp_path: Path, anvil: AnvilNode, deployer: Any
) -> None:
    state = anvil.state_file
    assert state is not None
    with serve_city(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", anvil, deployer) as served:
        load = Load(served, SEED)
        with load:
            until(lambda: len(_anchored(served, load)) >= 3, "nothing was anchored before the backup")
            anvil.wait_for_state_dump()
            older = tmp_path / "older-state.json"
            shutil.copyfile(state, older)  # the node's persisted state as of now
            saved_at = time.time()
            until(
                lambda: sum(d.at > saved_at and _on_chain(served, d.id) for d in load.issued) >= 5,
                "nothing was anchored after the backup",
            )
            before = set(_anchored(served, load))
            revoked = _revoke_some(served, sorted(before), 2)
            until(lambda: _revocations_confirmed(served), "the revocations were never confirmed")
            last = _last_rows(served)
            mine(anvil.url, 20)  # deeper than XACTHUC_FINALITY_DEPTH: the service has seen them final
            until(lambda: _final_up_to(served, *last), "the anchors never became final")
            seen = {d for d in _anchored(served, load) if _on_chain(served, d)} | revoked

            anvil.kill()  # the node dies and comes back from its older persisted state: the blocks since are gone
            shutil.copyfile(older, state)
            anvil.extra_args = ("--no-mining",)  # and holds still while we look
            anvil.start()
            restarted_at = time.time()
            vanished = {d for d in seen if not _on_chain(served, d)}
            assert vanished, "the gap lost no anchor"
            until(lambda: served.readyz() == 200, "/readyz never came back")
            until(lambda: not _not_valid_now(served, vanished), "documents whose anchor is gone still verify valid")
            anvil_rpc(anvil.url, "evm_setAutomine", [True])
            resumed_at = time.time()
            until(lambda: all(_on_chain(served, d) for d in vanished), "the vanished documents were never re-anchored")
            until(lambda: sum(d.at > resumed_at for d in load.issued) >= 3, "the load did not go on after the gap")
        figures = reconcile(served, load, revoked)
    figures.faults = 1
    wrong = valid_after(load, vanished, restarted_at, resumed_at)
    figures.wrong_verdicts += [f"{s.doc_id} valid while its anchor was gone" for s in wrong]
    # While the node was down, requests that needed it answered a typed 503; verifications answered `error`.
    assert_clean(figures, "chain gap", SEED, allowed_codes={"CHAIN_UNAVAILABLE"})


def _last_rows(served: Served) -> tuple[int, int]:
    with Session(served.services.engine) as s:
        return (
            s.exec(select(func.max(AnchorBatch.id))).one() or 0,
            s.exec(select(func.max(RevocationTx.id))).one() or 0,
        )


def _final_up_to(served: Served, batch: int, revocation: int) -> bool:
    """Every batch and revocation up to these ids is final (the load goes on cutting new ones meanwhile)."""
    with Session(served.services.engine) as s:
        batches = s.exec(select(AnchorBatch.state).where(col(AnchorBatch.id) <= batch)).all()
        revocations = s.exec(select(RevocationTx.state).where(col(RevocationTx.id) <= revocation)).all()
    return all(state == BatchState.FINAL for state in (*batches, *revocations))
