"""Small helpers of the chain and storage fault tests (issue 15): a served city, a steady load, a reconciliation.

``serve_city`` sets a city up as ``xacthuc serve`` runs it in production shape (``build_services(role=SERVER)``: the
relayer sends every anchor and revocation, the anchoring worker and the chain indexer run as threads, uvicorn serves
the app on a real socket) over a given database and anvil. ``Load`` issues and verifies steadily from two threads and
records every answer with the moment its request started. ``reconcile`` waits for the outbox to drain and then
proves that every document answered 201 is stored and anchored exactly once on the chain (and every accepted
revocation revoked exactly once). What counts as a wrong verdict depends on the fault, so each test judges the
recorded verdicts itself (``valid_after``).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from hexbytes import HexBytes
from sqlmodel import Session
from web3 import Web3

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.anchoring import pending_count, pending_revocations
from ledger.chain.client import RegistryClient
from ledger.chain.proof import RevocationReason
from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, free_port, fund
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings

PASSPHRASE = "a passphrase for the fault tests"
AGENCY = "ubnd-hcm"
REQUEST_TIMEOUT = 15.0  # a request that has not answered by then is recorded as a transport failure
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def until(condition: Callable[[], object], what: str, timeout: float = 60.0, poll: float = 0.1) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(poll)


@dataclass
class Served:
    base: str
    services: Services
    registry: RegistryClient  # our own client over plain HTTP: the reconciliation reads the chain with it
    anvil: AnvilNode
    api_key: str
    agency_address: str
    client: httpx.Client  # the test's own requests (the load's threads have their own)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def get(self, doc_id: str) -> httpx.Response:
        return self.client.get(f"/v1/documents/{doc_id}")

    def verify(self, payload: str) -> dict[str, Any]:
        r = self.client.post("/v1/verify", json={"payload": payload})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def readyz(self) -> int:
        try:
            return self.client.get("/readyz").status_code
        except httpx.HTTPError:
            return 0

    def revoke(self, doc_id: str) -> httpx.Response:
        return self.client.post(f"/v1/documents/{doc_id}/revoke", json={"reason": "annulled"}, headers=self.auth)


@contextmanager
def _uvicorn(services: Services) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    until(lambda: server.started or not thread.is_alive(), "the server did not start", timeout=30, poll=0.02)
    assert thread.is_alive(), "the server stopped at start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def serve_city(
    tmp_path: Path, database_url: str, anvil: AnvilNode, deployer: Any, **overrides: Any
) -> Iterator[Served]:
    """A city over ``database_url`` and ``anvil`` served as ``xacthuc serve`` serves it; stopped afterwards."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    engine = make_engine(database_url)
    migrate(engine)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
        relayer = city.relayer_account.address
    engine.dispose()
    w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 10}))
    fund(anvil.url, deployer.address, 10**21)
    fund(anvil.url, relayer, 10**21)
    registry = RegistryClient.deploy(w3, deployer, city.admin_address, timeout=10)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "rpc_url": anvil.url,
        "registry_address": registry.address,
        "keystore_passphrase": PASSPHRASE,
        "batch_interval": 0.3,
        "revoke_wait": 0,
        "index_max_age": 2.0,
    }
    if "rate_limits" in Settings.model_fields:  # a load test, not an abuse test (the limiter has its own)
        values["rate_limits"] = "off"
    values.update(overrides)
    settings = Settings(_env_file=None, **values)
    services = build_services(settings, role=Role.SERVER)
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    key = next(a["api_key"] for a in creds["agencies"] if a["id"] == AGENCY)
    agency_address = Web3.to_checksum_address(city.eth_address(AGENCY))
    try:
        services.start_worker()
        services.start_indexer(poll=0.2)
        with _uvicorn(services) as base, httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            yield Served(base, services, registry, anvil, key, agency_address, client)
    finally:
        services.close()


# ------------------------------------------------------------------------------------------------------------ load
@dataclass(frozen=True)
class Issued:
    id: str
    verify_url: str
    at: float  # time.time() the request started


@dataclass(frozen=True)
class Failure:
    what: str
    status: int  # 0: no HTTP answer (connection refused, timeout)
    code: str
    at: float


@dataclass(frozen=True)
class Seen:
    doc_id: str
    verdict: str
    started: float  # time.time()
    chain_state: dict[str, Any] | None  # the ``anchored`` check's ``data.chain_state``


def _code(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "<not an error body>"


@dataclass
class Load:
    """A steady load: one thread issues one document at a time, one verifies documents issued before (seeded)."""

    served: Served
    seed: int
    pace: float = 0.2  # seconds between requests of each thread: a small steady load, not a benchmark
    issued: list[Issued] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    batch_size: int = 0  # > 0: a third thread issues batches of this many (``POST /v1/documents:batch``)
    batch_in_flight: threading.Event = field(default_factory=threading.Event)
    failed_batches: list[list[str]] = field(default_factory=list)  # the numbers of each batch that failed
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _number: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        loops = [self._issuing, self._verifying] + ([self._batching] if self.batch_size else [])
        self._threads = [threading.Thread(target=f, daemon=True) for f in loops]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(REQUEST_TIMEOUT + 5)

    def next_number(self) -> str:
        with self._lock:
            self._number += 1
            return f"{self._number}/QĐ-UBND"

    def _batching(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            while not self._stop.wait(self.pace):
                numbers = [self.next_number() for _ in range(self.batch_size)]
                docs = [
                    {**META, "number": n, "file_base64": base64.b64encode(f"batch {n} {self.seed}".encode()).decode()}
                    for n in numbers
                ]
                started = time.time()
                self.batch_in_flight.set()
                try:
                    r = client.post(
                        f"{self.served.base}/v1/documents:batch", json={"documents": docs}, headers=self.served.auth
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(Failure("batch", 0, type(exc).__name__, started))
                    self.failed_batches.append(numbers)
                    continue
                finally:
                    self.batch_in_flight.clear()
                if r.status_code == 201:
                    self.issued += [Issued(d["id"], d["verify_url"], started) for d in r.json()["documents"]]
                else:
                    self.failures.append(Failure("batch", r.status_code, _code(r), started))
                    self.failed_batches.append(numbers)

    def _issuing(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            while not self._stop.wait(self.pace):
                number = self.next_number()
                started = time.time()
                try:
                    r = client.post(
                        f"{self.served.base}/v1/documents",
                        data={**META, "number": number},
                        files={"file": ("qd.pdf", f"decision {number} seed {self.seed}".encode(), "application/pdf")},
                        headers=self.served.auth,
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(Failure("issue", 0, type(exc).__name__, started))
                    continue
                if r.status_code == 201:
                    body = r.json()
                    self.issued.append(Issued(body["id"], body["verify_url"], started))
                else:
                    self.failures.append(Failure("issue", r.status_code, _code(r), started))

    def _verifying(self) -> None:
        rng = random.Random(self.seed)
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            while not self._stop.wait(self.pace):
                if not self.issued:
                    continue
                doc = self.issued[rng.randrange(len(self.issued))]
                started = time.time()
                try:
                    r = client.post(f"{self.served.base}/v1/verify", json={"payload": doc.verify_url})
                except httpx.HTTPError as exc:
                    self.failures.append(Failure("verify", 0, type(exc).__name__, started))
                    continue
                if r.status_code != 200:
                    self.failures.append(Failure("verify", r.status_code, _code(r), started))
                    continue
                report = r.json()
                anchored: dict[str, Any] = next((c for c in report["checks"] if c["name"] == "anchored"), {})
                state = anchored.get("data", {}).get("chain_state")
                self.seen.append(Seen(doc.id, report["verdict"], started, state))


def fresh_after(seen: Seen, moment: float) -> bool:
    """Whether ``seen`` reflects the chain after ``moment``: its request started after it, and it was answered from
    the chain itself or from an index synced after it. (An index synced before may answer for up to
    ``XACTHUC_INDEX_MAX_AGE``, and says so: that is its documented bound, not a wrong verdict.)"""
    if seen.started <= moment:
        return False
    state = seen.chain_state or {}
    if state.get("source") == "index":
        synced = state.get("synced_at")
        return synced is not None and datetime.fromisoformat(synced).timestamp() > moment
    return True


def valid_after(load: Load, doc_ids: set[str], moment: float, until_moment: float) -> list[Seen]:
    """``valid`` verdicts for ``doc_ids`` that reflect the chain between ``moment`` and ``until_moment``."""
    return [
        s
        for s in load.seen
        if s.doc_id in doc_ids and s.verdict == "valid" and fresh_after(s, moment) and s.started < until_moment
    ]


# -------------------------------------------------------------------------------------------------- reconciliation
@dataclass
class Figures:
    """What one fault test did and found (printed for the closing note)."""

    faults: int = 0
    acknowledged: int = 0
    revoked: int = 0
    lost: list[str] = field(default_factory=list)
    wrong_verdicts: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def line(self, name: str, seed: int) -> str:
        return (
            f"{name} seed={seed}: faults={self.faults} acknowledged={self.acknowledged} revoked={self.revoked} "
            f"lost={len(self.lost)} wrong_verdicts={len(self.wrong_verdicts)} failed_requests={dict(self.failures)}"
        )


def _events(registry: RegistryClient, name: str) -> list[Any]:
    topic = registry.artifact.event_topic(name)
    return list(registry.w3.eth.get_logs({"address": registry.address, "topics": [HexBytes(topic)], "fromBlock": 0}))


def _settled(doc: dict[str, Any], revoked: bool) -> bool:
    if revoked:
        return doc["status"] == "revoked" and doc.get("revocation", {}).get("state") in ("confirmed", "final")
    return doc["status"] == "anchored" and doc.get("proof") is not None


def reconcile(served: Served, load: Load, revoked: set[str] = frozenset(), timeout: float = 90.0) -> Figures:  # type: ignore[assignment]
    """Every 201 stored and anchored exactly once; every accepted revocation revoked on chain exactly once."""
    figures = Figures(acknowledged=len(load.issued), revoked=len(revoked))
    figures.failures.update(f"{f.what} {f.status} {f.code}" for f in load.failures)
    docs: dict[str, dict[str, Any]] = {}

    def drained() -> bool:
        with Session(served.services.engine) as s:
            return pending_count(s) == 0 and pending_revocations(s) == 0

    with suppress(AssertionError):  # what never drains is reported below, document by document
        until(drained, "the outbox never drained", timeout=timeout, poll=0.2)
    deadline = time.monotonic() + 10
    pending = [d.id for d in load.issued]
    while pending and time.monotonic() < deadline:
        still = []
        for doc_id in pending:
            r = served.get(doc_id)
            if r.status_code == 200 and _settled(r.json(), doc_id in revoked):
                docs[doc_id] = r.json()
            else:
                still.append(doc_id)
        pending = still
        if pending:
            time.sleep(0.2)
    for doc_id in pending:
        r = served.get(doc_id)
        what = f"HTTP {r.status_code}" if r.status_code != 200 else f"status {r.json()['status']}"
        figures.lost.append(f"{doc_id}: never settled ({what})")
    agency = served.agency_address.lower()
    anchors = Counter(
        ("0x" + bytes(e["topics"][1])[12:].hex(), bytes(e["topics"][2])) for e in _events(served.registry, "Anchored")
    )
    revocations = Counter(
        ("0x" + bytes(e["topics"][1])[12:].hex(), bytes(e["topics"][2]), bytes(e["topics"][3]))
        for e in _events(served.registry, "Revoked")
    )
    for doc_id, doc in docs.items():
        root, leaf = bytes.fromhex(doc["proof"]["root"][2:]), bytes.fromhex(doc["proof"]["leaf"][2:])
        if anchors[(agency, root)] != 1:
            figures.lost.append(f"{doc_id}: its root is anchored {anchors[(agency, root)]} times")
        status = served.registry.status(served.agency_address, root, leaf)
        if status.anchorer is None:
            figures.lost.append(f"{doc_id}: the registry does not hold its root")
        if doc_id in revoked:
            if revocations[(agency, root, leaf)] != 1:
                figures.lost.append(f"{doc_id}: revoked {revocations[(agency, root, leaf)]} times on chain")
            if status.reason == RevocationReason.NONE:
                figures.lost.append(f"{doc_id}: accepted revocation is not on chain")
    return figures


def assert_clean(figures: Figures, name: str, seed: int, allowed_codes: set[str]) -> None:
    """Nothing lost, no wrong verdict, and every failed request a typed answer among ``allowed_codes``."""
    print(figures.line(name, seed))  # the figures of the closing note
    assert figures.acknowledged > 0, figures.line(name, seed)
    assert not figures.lost, (figures.line(name, seed), figures.lost[:10])
    assert not figures.wrong_verdicts, (figures.line(name, seed), figures.wrong_verdicts[:10])
    untyped = [k for k in figures.failures if k.split(" ", 2)[2] not in allowed_codes]
    assert not untyped, (figures.line(name, seed), untyped)


def stop_quietly(fn: Callable[[], object]) -> None:
    with suppress(Exception):
        fn()
