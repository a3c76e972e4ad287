"""What one ``/metrics`` scrape costs the database with a large archive (durable PostgreSQL, issue 14).

The scrape reads the shared state from the database (xacthuc/metrics.py): documents issued by agency, the leaves
waiting, the batches and revocations by state. ``documents`` and ``batches`` rows are written by SQL
(``generate_series``: the figures are about reading them, and the archive is dated the day before), then vacuumed
and analysed as autovacuum would. Reported, in ms:

- ``documents_plain_ms`` and ``batches_plain_ms``: the whole table counted by agency and by state, what every
  scrape ran before ``ledger/tally.py`` (medians of ``runs``);
- ``documents_tally_first_ms``: ``RowTally``'s first call, a full count up to the mark;
- ``documents_tally_steady_ms``: its later calls, a scrape every 15 s with ``new_per_scrape`` documents and one
  batch written between scrapes (median of ``3 * runs``);
- ``scrape_first_ms``, ``scrape_steady_ms``: the whole shared-state collection of a scrape (documents, leaves,
  batches, revocations), its first and then the same steady scrapes;
- ``documents_speedup`` and ``scrape_speedup``: plain over steady.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench._postgres import on_durable_postgres

DOCS_SQL = """
INSERT INTO ledger_document (id, agency_id, number, number_year, metadata_json, sha256, file_size, payload,
    commitment, account, chain_id, contract, created_at)
SELECT %(prefix)s || lpad(to_hex(g), 16, '0'), 'agency-' || (g %% %(agencies)s), g || '/QĐ-UBND-' || %(prefix)s,
    2026, %(meta)s, md5(g::text) || md5(g::text), 0, repeat('X', 330),
    decode(md5(%(prefix)s || g::text) || md5(%(prefix)s || (g + 1)::text), 'hex'), '0x' || repeat('a', 40), 31337,
    '0x' || repeat('b', 40), %(at)s
FROM generate_series(1, %(n)s) g
"""
BATCHES_SQL = """
INSERT INTO ledger_batch (account, state, root, count, tree, created_at, attempts)
SELECT '0x' || repeat('a', 40), CASE WHEN g %% 1000 = 0 THEN 'confirmed' ELSE 'final' END,
    decode(md5(random()::text || g::text) || md5(g::text || random()::text), 'hex'), 3,
    decode(repeat('ab', 160), 'hex'), %(at)s, 1
FROM generate_series(1, %(n)s) g
"""
META = '{"title": "' + "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024 " * 4 + '", "issuing_body": "UBND"}'


def _progress(msg: str) -> None:
    print(f"  metrics: {msg}", file=sys.stderr, flush=True)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def _ulid_prefix(moment: datetime) -> str:
    """The first 10 characters of a document id minted at ``moment``: rows written with it sort by that time."""
    from ledger.documents.receipt import document_id_str, new_document_id

    return document_id_str(new_document_id(moment, bytes))[:10]


def _measure(engine: Engine, documents: int, batches: int, runs: int, new_per_scrape: int) -> dict[str, Any]:
    from sqlalchemy import func
    from sqlmodel import col, select

    from ledger.chain.outbox import AnchorBatch
    from ledger.documents.table import DocumentRow
    from ledger.tally import RowTally
    from xacthuc.metrics import _SharedState

    start = datetime.now(UTC) - timedelta(days=1)  # the archive was written over the day before
    load = time.perf_counter()
    with engine.begin() as c:
        c.exec_driver_sql(DOCS_SQL, {"prefix": _ulid_prefix(start), "agencies": 24, "meta": META, "n": documents,
                                     "at": start})  # fmt: skip
        c.exec_driver_sql(BATCHES_SQL, {"n": batches, "at": start})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE ledger_document")
        c.exec_driver_sql("VACUUM ANALYZE ledger_batch")
    _progress(f"{documents} documents and {batches} batches written in {time.perf_counter() - load:.1f} s")
    result: dict[str, Any] = {"documents": documents, "batches": batches, "runs": runs}

    def plain_documents() -> None:  # what every scrape ran before
        with Session(engine) as s:
            s.exec(select(DocumentRow.agency_id, func.count()).group_by(col(DocumentRow.agency_id))).all()

    def plain_batches() -> None:
        with Session(engine) as s:
            s.exec(select(AnchorBatch.state, func.count()).group_by(col(AnchorBatch.state))).all()

    result["documents_plain_ms"] = _median_ms(plain_documents, runs)
    result["batches_plain_ms"] = _median_ms(plain_batches, runs)

    now = [datetime.now(UTC)]
    tally = RowTally(DocumentRow, group=DocumentRow.agency_id)
    issued = [0]

    def tally_documents() -> None:
        with Session(engine) as s:
            assert sum(tally.counts(s, now[0]).values()) == documents + issued[0]

    result["documents_tally_first_ms"] = _median_ms(tally_documents, 1)
    state = _SharedState(SimpleNamespace(engine=engine, clock=lambda: now[0]))  # type: ignore[arg-type]
    result["scrape_first_ms"] = _median_ms(lambda: list(state.collect()), 1)
    steady, scrapes = [], []
    for _ in range(runs * 3):  # a scrape every 15 s, new documents and a batch between
        now[0] += timedelta(seconds=15)
        with engine.begin() as c:
            c.exec_driver_sql(DOCS_SQL, {"prefix": _ulid_prefix(now[0]), "agencies": 24, "meta": META,
                                         "n": new_per_scrape, "at": now[0]})  # fmt: skip
            c.exec_driver_sql(BATCHES_SQL, {"n": 1, "at": now[0]})
        issued[0] += new_per_scrape
        steady.append(_median_ms(tally_documents, 1))
        scrapes.append(_median_ms(lambda: list(state.collect()), 1))
    result["documents_tally_steady_ms"] = round(statistics.median(steady), 2)
    result["scrape_steady_ms"] = round(statistics.median(scrapes), 2)
    result["new_per_scrape"] = new_per_scrape
    result["documents_speedup"] = round(
        result["documents_plain_ms"] / max(result["documents_tally_steady_ms"], 0.01), 1
    )
    result["scrape_speedup"] = round(
        (result["documents_plain_ms"] + result["batches_plain_ms"]) / max(result["scrape_steady_ms"], 0.01), 1
    )
    return result


def run(documents: int = 1_000_000, batches: int = 200_000, runs: int = 7, new_per_scrape: int = 20) -> dict[str, Any]:
    from xacthuc.database import make_engine, migrate

    def measure(new_database: Callable[[], str]) -> dict[str, Any]:
        engine = make_engine(new_database())
        try:
            migrate(engine)
            return _measure(engine, documents, batches, runs, new_per_scrape)
        finally:
            engine.dispose()

    return on_durable_postgres(measure)


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    sys.stdout.write("\n")
