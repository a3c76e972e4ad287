"""End-to-end anchoring throughput: leaves queued in the outbox until every batch is confirmed on a real anvil.

Measures the whole path the service runs (bulk enqueue into SQLite, batch cutting with the tree and every leaf's
path, signing, broadcasting, confirmation) for ``LEAVES`` leaves at the default ``batch_max`` (1,024), and, for
scale, the same at 4,096; then at 1,024 into PostgreSQL (a durable server from Debian's binaries, as the documents
bench starts it). Progress goes to stderr only.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_account import Account
from sqlmodel import Session
from web3 import HTTPProvider, Web3

from bench._postgres import on_durable_postgres
from ledger.chain.anchoring import Anchorer, WorkerConfig, pending_count
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import enqueue_many
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, fund

LEAVES = 100_000
TARGET_PER_SECOND = 20_000


def _progress(message: str) -> None:
    print(f"bench_anchoring: {message}", file=sys.stderr, flush=True)


def _run_once(workdir: Path, node: AnvilNode, leaves: int, batch_max: int, url: str | None = None) -> dict[str, Any]:
    engine = make_engine(url or f"sqlite:///{workdir / f'bench-{batch_max}.db'}")
    migrate(engine)
    w3 = Web3(HTTPProvider(node.url))
    deployer, agency = Account.create(), Account.create()
    for acct in (deployer, agency):
        fund(node.url, acct.address, 10**22)
    registry = RegistryClient.deploy(w3, deployer, deployer.address)
    data = [hashlib.sha256(f"bench {batch_max} {i}".encode()).digest() for i in range(leaves)]
    config = WorkerConfig(batch_max=batch_max, batch_interval=timedelta(0), finality_depth=10**6)
    anchorer = Anchorer(engine, registry, {agency.address: agency}, config)

    start = time.perf_counter()
    with Session(engine) as session:
        enqueue_many(session, agency.address, data, datetime.now(UTC))
        session.commit()
    queued = time.perf_counter()
    passes = 0
    while True:
        anchorer.step()
        passes += 1
        with Session(engine) as session:
            if pending_count(session) == 0:
                break
    done = time.perf_counter()
    engine.dispose()
    total = done - start
    return {
        "leaves": leaves,
        "batch_max": batch_max,
        "batches": -(-leaves // batch_max),
        "worker_passes": passes,
        "enqueue_seconds": round(queued - start, 3),
        "anchor_seconds": round(done - queued, 3),
        "total_seconds": round(total, 3),
        "leaves_per_second": round(leaves / total),
    }


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"target_leaves_per_second": TARGET_PER_SECOND}
    with tempfile.TemporaryDirectory(prefix="xacthuc-bench-") as tmp, AnvilNode() as node:
        for batch_max in (1024, 4096):
            _progress(f"{LEAVES} leaves, batch_max {batch_max}")
            out[f"batch_{batch_max}"] = _run_once(Path(tmp), node, LEAVES, batch_max)
            _progress(f"  {out[f'batch_{batch_max}']['leaves_per_second']} leaves/s")
        out["postgres_batch_1024"] = _postgres(Path(tmp), node)
    measured = [out["batch_1024"], out["postgres_batch_1024"]]
    out["meets_target"] = all(m["leaves_per_second"] >= TARGET_PER_SECOND for m in measured if "skipped" not in m)
    return out


def _postgres(workdir: Path, node: AnvilNode) -> dict[str, Any]:
    def measure(new_database: Callable[[], str]) -> dict[str, Any]:
        _progress(f"{LEAVES} leaves, batch_max 1024, PostgreSQL")
        result = _run_once(workdir, node, LEAVES, 1024, new_database())
        _progress(f"  {result['leaves_per_second']} leaves/s")
        return result

    return on_durable_postgres(measure)
