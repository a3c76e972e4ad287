"""The production shape without Docker (issue 14): one PostgreSQL, one anvil, two API processes without the worker,
and two ``xacthuc worker`` processes, a leader and a standby, each a separate local process.

The city is set up as an operator sets one up in production (no ``--dev``): ``xacthuc init`` with the keystore
passphrase from a secrets file, ``xacthuc agency create``, the admin and relayer accounts funded on the chain,
``xacthuc chain deploy``. Documents and a citizen's credential are issued on one API and verified on the other.
The PostgreSQL advisory lock elects the leading worker (``pg_locks``, each process naming itself with
``PGAPPNAME``); it is SIGKILLed while documents wait, the standby must hold the lock within 10 s (a deadline the
issue sets, not a measurement), and every acknowledged document ends anchored exactly once: each root has one
``Anchored`` event, the events' counts add up to the documents, and the registry says each leaf is anchored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hexbytes import HexBytes
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from web3 import HTTPProvider, Web3

from identity.wallet import create_wallet
from ledger.chain._abi import load_artifact
from ledger.chain.outbox import AnchorBatch, AnchorLeaf
from ledger.chain.reader import RegistryReader
from tests.plugins.db import PostgresServer
from xacthuc.database import make_engine
from xacthuc.devchain import AnvilNode, free_port, fund
from xacthuc.worker import ADVISORY_LOCK_KEY

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://xacthuc.example.vn"  # the reverse proxy's address, the same for every replica
TAKEOVER_DEADLINE = 10.0  # seconds from the leader's death to the standby holding the lock (the issue's bound)
START_DEADLINE = 180.0  # a process unlocking the keystore (scrypt) on a busy 2-core machine
LEADING = "this process is the anchoring worker now"
WAITING = "another process is the anchoring worker"
LOST = "the worker lock was lost"
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2026",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-11-20",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}


def _xacthuc(*args: str) -> list[str]:
    return [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]


@dataclass
class Proc:
    """One of the city's processes: its name (also its PostgreSQL application_name), the process, its log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    base: str | None = None  # an API's address

    def text(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@dataclass
class City:
    env: dict[str, str]
    engine: Engine
    anvil: AnvilNode
    keys: dict[str, str]  # agency id -> API key
    agency_address: str  # ubnd-hcm's account: the registry records its anchors under it
    contract: str
    work: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def cli(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(_xacthuc(*args, "--json"), cwd=ROOT, env=self.env, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))

    def start(self, name: str, *args: str, port: int | None = None) -> Proc:
        env = {**self.env, "PGAPPNAME": name}
        if port is not None:
            env["XACTHUC_PORT"] = str(port)
        log = self.work / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                _xacthuc(*args),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log, None if port is None else f"http://127.0.0.1:{port}")
        self.procs[name] = proc
        return proc

    def lock_sessions(self) -> list[tuple[str, str, int]]:
        """(application name, state, backend pid) of the sessions holding the worker's advisory lock: the
        database's own answer to "who leads"."""
        query = text(
            "SELECT a.application_name, a.state, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :k"
        )
        with self.engine.connect() as conn:
            return [(str(r[0]), str(r[1]), int(r[2])) for r in conn.execute(query, {"k": ADVISORY_LOCK_KEY})]

    def lock_holders(self) -> list[str]:
        return [name for name, _, _ in self.lock_sessions()]


def _wait_ready(proc: Proc) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while True:
        assert proc.popen.poll() is None, proc.text()
        try:
            if httpx.get(f"{proc.base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{proc.name} did not get ready:\n{proc.text()}"
        time.sleep(0.2)


@pytest.fixture
def city(tmp_path: Path, postgres_server: PostgresServer, anvil: AnvilNode) -> Iterator[City]:
    """The city set up once as in production, then its four processes started: api-a, api-b, worker-1, worker-2."""
    data_dir = tmp_path / "var"  # shared by every process, as the compose volume is
    secret = tmp_path / "secrets" / "keystore_passphrase"
    secret.parent.mkdir(mode=0o700)
    secret.write_text("a passphrase for the scaled-out test\n", encoding="utf-8")
    secret.chmod(0o600)
    db_url = postgres_server.create_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XACTHUC_", "PG"))}
    env.update(
        XACTHUC_DATA_DIR=str(data_dir),
        XACTHUC_DATABASE_URL=db_url,
        XACTHUC_RPC_URL=anvil.url,
        XACTHUC_KEYSTORE_PASSPHRASE_FILE=str(secret),
        XACTHUC_PUBLIC_URL=PUBLIC,
        XACTHUC_BATCH_INTERVAL="2",  # a document waits up to 2 s for its batch: some are pending at the kill
        XACTHUC_LOG_LEVEL="INFO",
    )
    engine = make_engine(db_url)
    work = tmp_path
    bootstrap = City(env, engine, anvil, {}, "", "", work)
    made = bootstrap.cli("init")
    assert made["dev_mode"] is False
    keys: dict[str, str] = {}
    agency_address = ""
    for agency_id, name, roles in (
        ("ubnd-hcm", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "documents"),
        ("ca-hcm", "Công an Thành phố Hồ Chí Minh", "identity"),
    ):
        created = bootstrap.cli("agency", "create", "--name", name, "--roles", roles, "--id", agency_id)
        keys[agency_id] = str(created["api_key"])
        if agency_id == "ubnd-hcm":
            agency_address = str(created["eth_address"])
    fund(anvil.url, str(made["admin_address"]), 10**21)  # the operator funds the admin (it deploys the registry)
    deployed = bootstrap.cli("chain", "deploy")
    relayer = str(bootstrap.cli("chain", "status")["relayer"])
    fund(anvil.url, relayer, 10**21)  # ... and the relayer, which pays for every anchor
    city = City(env, engine, anvil, keys, agency_address, str(deployed["contract"]), work)
    try:
        api_a = city.start("api-a", "serve", "--no-worker", port=free_port())
        api_b = city.start("api-b", "serve", "--no-worker", port=free_port())
        city.start("worker-1", "worker")
        city.start("worker-2", "worker")
        _wait_ready(api_a)
        _wait_ready(api_b)
        yield city
    finally:
        for proc in city.procs.values():
            proc.stop()
        engine.dispose()


# ------------------------------------------------------------------------------------------------------- helpers
def _issue(api: Proc, keys: dict[str, str], number: str) -> dict[str, Any]:
    r = httpx.post(
        f"{api.base}/v1/documents",
        data={**META, "number": number},
        files={"file": ("qd.pdf", f"%PDF-1.4 quyết định {number}".encode(), "application/pdf")},
        headers={"Authorization": f"Bearer {keys['ubnd-hcm']}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _status(api: Proc, document_id: str) -> dict[str, Any]:
    r = httpx.get(f"{api.base}/v1/documents/{document_id}", timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _verify(api: Proc, payload: str, **extra: str) -> dict[str, Any]:
    r = httpx.post(f"{api.base}/v1/verify", json={"payload": payload, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait_anchored(api: Proc, ids: list[str], deadline_s: float = 120) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + deadline_s
    done: dict[str, dict[str, Any]] = {}
    while True:
        for document_id in ids:
            if document_id not in done and (doc := _status(api, document_id))["status"] == "anchored":
                done[document_id] = doc
        if len(done) == len(ids):
            return done
        assert time.monotonic() < deadline, f"not anchored: {sorted(set(ids) - set(done))}"
        time.sleep(0.2)


def _leader(city: City, deadline_s: float) -> str:
    """The worker holding the lock, once exactly one does (and its log says so)."""
    deadline = time.monotonic() + deadline_s
    while True:
        holders = city.lock_holders()
        if len(holders) == 1 and LEADING in city.procs[holders[0]].text():
            return holders[0]
        assert len(holders) <= 1, holders
        for name in ("worker-1", "worker-2"):
            proc = city.procs[name]
            assert proc.popen.poll() is None or name not in holders, proc.text()
        assert time.monotonic() < deadline, f"no leading worker; lock held by {holders}"
        time.sleep(0.1)


def _credential_round_trip(city: City, issuer: Proc, verifier: Proc, tmp: Path, cccd: str) -> None:
    """Register a citizen and issue a credential on ``issuer``; the wallet's presentation verifies on ``verifier``."""
    auth = {"Authorization": f"Bearer {city.keys['ca-hcm']}"}
    r = httpx.post(f"{issuer.base}/v1/citizens", json={**CITIZEN, "cccd": cccd}, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    wallet = create_wallet(tmp / f"wallet-{cccd}.json", "ví của tôi", scrypt_n=2**10)
    r = httpx.post(
        f"{issuer.base}/v1/citizens/{r.json()['id']}/credentials",
        json={"holder_jwk": wallet.holder_jwk()},
        headers=auth,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    wallet.import_credential(str(r.json()["credential"]), now)
    payload = wallet.present(["full_name", "birth_date"], audience="https://bank.example/kyc", now=now)
    report = _verify(verifier, payload, audience="https://bank.example/kyc")
    assert report["verdict"] == "valid", report


# --------------------------------------------------------------------------------------------------------- test
def test_both_apis_serve_and_the_standby_takes_over_a_killed_leader_nothing_anchored_twice_or_lost(
    city: City, tmp_path: Path
) -> None:
    api_a, api_b = city.procs["api-a"], city.procs["api-b"]
    leader = _leader(city, START_DEADLINE)
    standby = "worker-2" if leader == "worker-1" else "worker-1"
    deadline = time.monotonic() + START_DEADLINE
    while WAITING not in city.procs[standby].text():  # started, unlocked, and standing by
        assert city.procs[standby].popen.poll() is None, city.procs[standby].text()
        assert time.monotonic() < deadline, city.procs[standby].text()
        time.sleep(0.1)
    # The leader's lock session idles outside a transaction: a server's idle_in_transaction_session_timeout
    # cannot end it (and the lock with it) while the leader works on.
    assert [(name, state) for name, state, _ in city.lock_sessions()] == [(leader, "idle")]

    # Issue on A, verify on B, and the reverse; a citizen's credential both ways too.
    docs: dict[str, tuple[Proc, dict[str, Any]]] = {}  # id -> (the API that issued it, its answer)

    def issue(api: Proc) -> str:
        doc = _issue(api, city.keys, f"{len(docs) + 1}/QĐ-UBND")
        docs[doc["id"]] = (api, doc)
        return str(doc["id"])

    for _ in range(4):
        issue(api_a)
        issue(api_b)
    _wait_anchored(api_b, list(docs))
    for document_id, (issuer, doc) in docs.items():
        other = api_b if issuer is api_a else api_a
        assert _verify(other, doc["verify_url"])["verdict"] == "valid", document_id
    _credential_round_trip(city, api_a, api_b, tmp_path, "079303001234")
    _credential_round_trip(city, api_b, api_a, tmp_path, "079303005678")

    # Documents acknowledged just before the leader dies: their batch is not even cut yet (2 s interval).
    before_kill = [issue(api) for api in (api_a, api_b) * 3]
    victim = city.procs[leader]
    os.killpg(victim.popen.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.popen.wait()
    pending = [i for i in before_kill if _status(api_a, i)["status"] == "pending"]
    assert pending, "every document was anchored before the kill: nothing was left for the standby"
    # ... and right after the kill (before the standby leads, most likely): acknowledged all the same, they wait
    # in the outbox.
    issue(api_b)
    issue(api_a)

    # The standby takes the lock within the deadline.
    while (holders := city.lock_holders()) != [standby]:
        assert time.monotonic() - killed_at < TAKEOVER_DEADLINE, f"lock held by {holders}, not {standby}"
        time.sleep(0.05)
    took_over = time.monotonic() - killed_at
    print(f"\nstandby {standby} holds the worker lock {took_over:.2f} s after {leader} was SIGKILLed")
    assert _leader(city, TAKEOVER_DEADLINE) == standby

    # Nothing lost: every acknowledged document (the pending ones included) is anchored; each verifies on the
    # API that did not issue it.
    anchored = _wait_anchored(api_a, list(docs))
    assert set(pending) <= set(anchored)
    for document_id, (issuer, doc) in docs.items():
        other = api_b if issuer is api_a else api_a
        assert _verify(other, doc["verify_url"])["verdict"] == "valid", document_id
    _assert_anchored_exactly_once(city, anchored)

    # The killed worker is started again: it stands by. Then the leader's database session ends under it (what a
    # database restart or failover, or a DBA's pg_terminate_backend, does): the leader notices at its next pass and
    # stops anchoring (another worker may hold the lock now), and one worker leads again.
    again = city.start("worker-3", "worker")
    deadline = time.monotonic() + START_DEADLINE
    while WAITING not in again.text():
        assert again.popen.poll() is None and time.monotonic() < deadline, again.text()
        time.sleep(0.1)
    ((_, _, backend),) = city.lock_sessions()
    with city.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend}).scalar()
    cut_at = time.monotonic()
    while LOST not in city.procs[standby].text():
        assert time.monotonic() - cut_at < TAKEOVER_DEADLINE, city.procs[standby].text()
        time.sleep(0.05)
    while len(holders := city.lock_holders()) != 1:
        assert time.monotonic() - cut_at < TAKEOVER_DEADLINE, f"lock held by {holders}"
        time.sleep(0.05)
    assert holders[0] in (standby, "worker-3")
    print(f"{holders[0]} holds the lock {time.monotonic() - cut_at:.2f} s after the leader's session was ended")
    issue(api_a)
    issue(api_b)
    anchored = _wait_anchored(api_b, list(docs))
    _assert_anchored_exactly_once(city, anchored)


def _assert_anchored_exactly_once(city: City, anchored: dict[str, dict[str, Any]]) -> None:
    """Every document's leaf in one batch, every batch's root anchored by one ``Anchored`` event (no root twice,
    whoever the agency), the events' leaf counts adding up to the documents, and the registry's own answer."""
    w3 = Web3(HTTPProvider(city.anvil.url, request_kwargs={"timeout": 10}))
    artifact = load_artifact()
    logs = w3.eth.get_logs(
        {
            "address": Web3.to_checksum_address(city.contract),
            "topics": [HexBytes(artifact.event_topic("Anchored"))],
            "fromBlock": 0,
            "toBlock": "latest",
        }
    )
    roots = [bytes(log["topics"][2]) for log in logs]
    assert len(roots) == len(set(roots)), "a root was anchored twice"
    counts = {bytes(log["topics"][2]): int.from_bytes(bytes(log["data"])[-32:], "big") for log in logs}
    assert sum(counts.values()) == len(anchored), (counts, len(anchored))
    with Session(city.engine) as session:
        leaves = session.exec(select(AnchorLeaf)).all()
        batches = {b.id: b for b in session.exec(select(AnchorBatch)).all()}
    assert len(leaves) == len(anchored)
    assert {bytes(b.root) for b in batches.values()} == set(roots)  # no batch anchored twice, none anchored unknown
    for row in leaves:
        assert row.batch_id is not None and bytes(batches[row.batch_id].root) in counts
    reader = RegistryReader(w3, city.contract)
    for document_id, doc in anchored.items():
        proof = doc["proof"]
        root, leaf = bytes.fromhex(proof["root"][2:]), bytes.fromhex(proof["leaf"][2:])
        assert root in counts, document_id
        status = reader.status(city.agency_address, root, leaf)
        assert status.anchorer is not None and not status.revoked, (document_id, status)
