"""Issue 8, item 9: a hung node (anvil stopped with SIGSTOP) once made every ``POST /v1/verify`` and ``/readyz`` take
about 52 s. Now each chain call has a deadline (``XACTHUC_RPC_TIMEOUT``) and a breaker short-circuits a node that
stopped answering: verifications answer ``error``, ``/readyz`` answers 503, and concurrent requests do not pile up.

A real server (uvicorn on a real socket, in a thread) over a real anvil. Nothing is timed: every request carries an
httpx timeout of 5 s, and a request that has not answered by then fails the test.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from tests.e2e.helpers import anchor_all
from xacthuc.app import create_app
from xacthuc.chainsetup import connect
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, free_port, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

DEADLINE = 5.0  # seconds any request may take before the test fails: a deadline, not a measurement
CONCURRENT = 60  # more than the server's 40 worker threads
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


@dataclass
class Served:
    base: str
    payload: str
    anvil: AnvilNode

    def verify(self) -> dict[str, Any]:
        r = httpx.post(f"{self.base}/v1/verify", json={"payload": self.payload}, timeout=DEADLINE)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def readyz(self) -> httpx.Response:
        return httpx.get(f"{self.base}/readyz", timeout=DEADLINE)


@contextmanager
def _serve(services: Services) -> Iterator[str]:
    """A real uvicorn server over the app, in a thread, on a free port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(params=[0.0, 2.0], ids=["direct-reads", "chain-index"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient
) -> Iterator[Served]:
    data_dir = tmp_path / "var"
    engine = make_engine(f"sqlite:///{tmp_path / 'xacthuc.db'}")
    migrate(engine)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, "hung node passphrase", now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    account = city.eth_account("ubnd-hcm")
    fund(anvil.url, account.address, 10**20)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        rpc_url=anvil.url,
        registry_address=anvil_registry.address,
        index_max_age=request.param,
    )
    chain = connect(settings)  # the server's own transport: the deadlines under test
    registry = RegistryClient(chain.w3, anvil_registry.address, from_block=anvil_registry.from_block)
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        chain=chain,
        registry_client=registry,
        signing_accounts={account.address: account},
    )
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    key = next(a["api_key"] for a in creds["agencies"] if a["id"] == "ubnd-hcm")
    try:
        services.start_indexer(poll=0.2)
        with _serve(services) as base:
            r = httpx.post(
                f"{base}/v1/documents",
                data=META,
                files={"file": ("qd.pdf", b"a decision", "application/pdf")},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            anchor_all(services)
            ready = Served(base, r.json()["verify_url"], anvil)
            _until(lambda: ready.verify()["verdict"] == "valid", "the anchored document never verified valid")
            yield ready
    finally:
        services.close()


def _until(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_hung_node_makes_verifications_error_and_readyz_503_at_once(served: Served) -> None:
    assert served.readyz().status_code == 200
    pid = served.anvil.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        # A fresh chain index still answers for up to XACTHUC_INDEX_MAX_AGE: then the chain is asked, and is hung.
        _until(lambda: served.verify()["verdict"] == "error", "verifications never reported the hung node")
        report = served.verify()
        assert report["verdict"] == "error"
        errored = [c for c in report["checks"] if c["status"] == "error"]
        assert errored and any("node" in c["message"].lower() or "chain" in c["message"].lower() for c in errored)

        ready = served.readyz()
        assert ready.status_code == 503 and ready.json()["down"] == {"chain": "ChainUnavailable"}

        def one(i: int) -> tuple[str, Any]:
            if i % 10 == 0:
                return "readyz", served.readyz().status_code
            return "verify", served.verify()["verdict"]

        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(one, range(CONCURRENT)))
        assert {a for kind, a in answers if kind == "verify"} == {"error"}
        assert {a for kind, a in answers if kind == "readyz"} == {503}
        assert httpx.get(f"{served.base}/healthz", timeout=DEADLINE).json() == {"status": "ok"}
    finally:
        os.kill(pid, signal.SIGCONT)
    # The node answers again: the breaker closes by itself, nothing to restart.
    _until(lambda: served.readyz().status_code == 200, "/readyz never recovered")
    _until(lambda: served.verify()["verdict"] == "valid", "verifications never recovered")
