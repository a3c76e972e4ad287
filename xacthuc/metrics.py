"""Prometheus metrics at ``GET /metrics``: what this process saw, and the anchoring state everyone shares.

Two kinds, and a scraper treats them differently (docs/operations.md, "Logs and metrics"):

- **This process's events**, counted in memory: HTTP requests and their latency by path template, verdicts by kind
  and verdict, errors of calls to each RPC endpoint, and the gas of the anchoring transactions this process's worker
  saw confirmed. Each process counts its own (sum them over the instances).
- **The shared state**, read from the database at each scrape: documents issued by agency, leaves waiting to be
  anchored, the oldest one's age, batches and revocations by state; and the anchoring accounts' balances from the
  node. Every process reports the same values (take one, or the max, never the sum).

Every process keeps its own registry; prometheus_client's multiprocess mode (files in a shared directory) would only
merge processes of one machine, and the API replicas of the production shape run in separate containers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from ledger.chain.anchoring import oldest_pending_leaf, on_confirmed, pending_count
from ledger.chain.outbox import AnchorBatch, BatchState, RevocationTx
from ledger.chain.rpc_failover import listen_for_rpc_errors
from ledger.chain.rpc_transport import rpc_deadline
from ledger.documents.table import DocumentRow
from ledger.tally import RowTally
from verifier.report import Report
from xacthuc.services import Services

__all__ = [
    "LATENCY_BUCKETS",
    "PROCESS_REGISTRY",
    "RequestMetrics",
    "count_gas",
    "count_rpc_error",
    "count_verdict",
    "install_metrics",
]

log = logging.getLogger("xacthuc.metrics")

#: The longest a scrape waits for the node (the balances); as ``/readyz``'s probe.
SCRAPE_CHAIN_SECONDS = 0.5

#: Request latency buckets, seconds: a verification takes about a millisecond, an upload or a revocation seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: The process's own counters (every app built in the process shows them: there is one process to count).
PROCESS_REGISTRY = CollectorRegistry()
_VERDICTS = Counter(
    "xacthuc_verifications_total",
    "Verifications answered by this process, by what was verified (document, credential, ...) and the verdict",
    ["kind", "verdict"],
    registry=PROCESS_REGISTRY,
)
_RPC_ERRORS = Counter(
    "xacthuc_rpc_errors_total",
    "Calls to an Ethereum JSON-RPC endpoint that failed (timed out, refused, broken answer), by endpoint "
    "(credentials redacted)",
    ["endpoint"],
    registry=PROCESS_REGISTRY,
)
_GAS = Counter(
    "xacthuc_anchor_gas_used_total",
    "Gas of the anchoring transactions (batches and revocations) this process's worker saw confirmed",
    ["kind"],
    registry=PROCESS_REGISTRY,
)


def count_verdict(report: Report) -> None:
    """One verification answered (``xacthuc_verifications_total``)."""
    _VERDICTS.labels(report.kind, report.verdict.value).inc()


def count_gas(kind: str, gas_used: int) -> None:
    """An anchoring transaction confirmed: ``kind`` is ``batch`` or ``revocation``."""
    _GAS.labels(kind).inc(gas_used)


def count_rpc_error(endpoint: str, _exc: BaseException) -> None:
    """A call to ``endpoint`` (its URL, credentials redacted) failed."""
    _RPC_ERRORS.labels(endpoint).inc()


on_confirmed(count_gas)


class RequestMetrics:
    """HTTP requests and their latency by path template (fed by ``xacthuc.request_log``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "xacthuc_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "xacthuc_http_request_seconds",
            "HTTP request latency by path template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def __call__(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)


class _SharedState(Collector):
    """The anchoring state and the documents issued, read from the database at each scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services
        # Both tables counted whole once, then only their recent rows (ledger/tally.py): they grow all the time.
        self.issued = RowTally(DocumentRow, group=DocumentRow.agency_id)
        self.batches = RowTally(AnchorBatch)
        # On PostgreSQL every figure of a scrape comes from one snapshot, so they agree (its default takes one a
        # statement). pysqlite starts no transaction for a SELECT, so on SQLite each statement sees its own; there
        # the total of batches is read before the moving states (``_batches``), and a batch cut during the scrape
        # can only make ``final`` one too low for that scrape, never a batch shown final before it is.
        postgres = services.engine.dialect.name == "postgresql"
        self.engine = services.engine.execution_options(isolation_level="REPEATABLE READ") if postgres else None

    def _batches(self, session: Session) -> dict[str, int]:
        """Batches by state: the states a batch passes through, counted (a few rows, from the state index), and
        ``final``, where nearly every batch ends, as the rest of the tally of all batches. A final batch the chain
        lost (``_walk_final``) is counted in its new state and leaves ``final`` at once."""
        moving = [s.value for s in BatchState if s is not BatchState.FINAL]
        query = (
            select(AnchorBatch.state, func.count())
            .where(col(AnchorBatch.state).in_(moving))
            .group_by(col(AnchorBatch.state))
        )
        total = self.batches.counts(session, self.services.clock())[""]  # before the moving states: see __init__
        counts = {str(state): int(n) for state, n in session.exec(query).all()}
        counts[BatchState.FINAL.value] = max(total - sum(counts.values()), 0)
        return counts

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            with Session(self.engine or self.services.engine) as session:
                issued = self.issued.counts(session, self.services.clock())
                pending = pending_count(session)
                since = oldest_pending_leaf(session)
                batches = self._batches(session)
                revocations = session.exec(
                    select(RevocationTx.state, func.count()).group_by(col(RevocationTx.state))
                ).all()
        except Exception:  # the database is down: /readyz says so; the process's own metrics still answer
            log.warning("the anchoring metrics could not be read from the database", exc_info=True)
            return
        documents = CounterMetricFamily(
            "xacthuc_documents_issued",
            "Documents issued (stored), by agency: the same from every process",
            labels=["agency"],
        )
        for agency, count in sorted(issued.items()):
            documents.add_metric([agency], count)
        yield documents
        yield GaugeMetricFamily(
            "xacthuc_anchor_leaves_pending", "Leaves queued and not yet in a confirmed batch", value=pending
        )
        age = 0.0 if since is None else max((self.services.clock() - since).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "xacthuc_oldest_pending_leaf_seconds",
            "Age of the oldest document leaf not yet in a confirmed batch (0 when none waits): the anchoring lag",
            value=age,
        )
        yield _by_state("xacthuc_anchor_batches", "Anchoring batches by state", batches.items())
        yield _by_state("xacthuc_revocations", "Revocation transactions by state", revocations)


def _by_state(name: str, doc: str, rows: object) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["state"])
    counts = {state: int(n) for state, n in rows}  # type: ignore[attr-defined]
    for state in BatchState:  # every state, 0 included: a series that appears only when non-zero breaks alerts
        family.add_metric([state.value], counts.get(state.value, 0))
    return family


def install_metrics(app: FastAPI, services: Services) -> RequestMetrics:
    """``GET /metrics`` over a registry of this app's own; returns the request counter ``RequestLog`` feeds."""
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    requests = RequestMetrics(registry)
    registry.register(_SharedState(services))
    if services.chain is not None:
        listen_for_rpc_errors(services.chain.w3.provider, count_rpc_error)
    balance = Gauge(
        "xacthuc_anchor_account_balance_wei",
        "Balance of each account that sends anchoring transactions (the city's relayer), in wei",
        ["account"],
        registry=registry,
    )

    def update_balances() -> None:
        if services.anchor_accounts is None:
            return
        try:
            with rpc_deadline(min(services.settings.rpc_timeout, SCRAPE_CHAIN_SECONDS)):
                balances = services.anchor_accounts.balances()
        except Exception:  # the node does not answer: the last values stay (the probe says the node is down)
            return
        balance.clear()
        for account, wei in balances.items():
            balance.labels(account).set(wei)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics: requests and latencies, verdicts, RPC errors and gas (this process's), documents
        issued and the anchoring state (shared: from the database), the anchoring accounts' balances."""
        update_balances()
        body = generate_latest(registry) + generate_latest(PROCESS_REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return requests
