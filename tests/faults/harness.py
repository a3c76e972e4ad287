"""Process kills under load, and the reconciliation afterwards (issue 15, "Faults as tests").

The city runs in the production shape of ``tests/e2e/test_scaled_out.py`` (its ``City``, ``_wait_ready`` and
``_leader`` are reused): a PostgreSQL cluster of its own (initdb into a temporary directory, never the server other
tests share), one anvil persisting its chain to a state file, two ``xacthuc serve --no-worker`` APIs and two
``xacthuc worker`` processes (a leader and a standby). ``Load`` issues, revokes and verifies through the real HTTP
APIs from a small thread pool, recording every answer with what it expected. ``Faults`` SIGKILLs, in turn, the node,
the PostgreSQL server, an API and the leading worker, each at a seeded moment measured in the load's own progress
(after N more answers), leaves it dead for M more answers, restarts it (the node on its state file, PostgreSQL on its
data directory, a process under the same name and port) and waits until the city serves again. ``reconcile`` then
proves, and ``Figures`` counts: every document answered 201 is stored and anchored exactly once (the registry's
events against the database), every revocation answered as confirmed is on chain, and no verification answered a
wrong verdict: ``valid`` for a revoked, altered or not (yet) anchored document, or a negative verdict for a genuine
one, whatever was down at the time; an unavailable state may only ever give ``error`` or a typed 5xx (never the
untyped 500 ``INTERNAL_ERROR``, for a verification, an issue or a revocation alike).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hexbytes import HexBytes
from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, select
from web3 import HTTPProvider, Web3

from ledger.chain._abi import load_artifact
from ledger.chain.anchoring import pending_revocations
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, BatchState, RevocationTx
from ledger.chain.reader import RegistryReader
from ledger.documents.issuing import DocumentRow
from ledger.documents.receipt import Registry, decode_payload, encode_payload
from tests.e2e.test_scaled_out import LEADING, META, PUBLIC, START_DEADLINE, WAITING, City, Proc, _wait_ready
from tests.plugins.db import PostgresServer, _pg_bindir
from xacthuc.database import make_engine
from xacthuc.devchain import AnvilNode, find_anvil_binary, free_port, fund

__all__ = [
    "FAULTS",
    "Doc",
    "Faults",
    "Figures",
    "Load",
    "PrivatePostgres",
    "Verification",
    "fault_city",
    "reconcile",
]

FAULTS = ("anvil", "postgres", "api", "worker")  # the order the issue names them in
RECOVERY_DEADLINE = START_DEADLINE  # a restarted process unlocks the keystore (scrypt) on a busy machine
PROGRESS_DEADLINE = 60.0  # the load answers at least this often, even with a process down
GENUINE_VERDICTS = {"valid", "pending", "error"}  # pending: not anchored yet (or its block lost with the node)
HTTP_TIMEOUT = 30.0


# ------------------------------------------------------------------------------------------------------ PostgreSQL
class PrivatePostgres(PostgresServer):
    """A PostgreSQL cluster of this test's own (``tests.plugins.db.PostgresServer``: initdb into a temporary
    directory, 127.0.0.1 and a free port, the same user), which can be SIGKILLed and started again on its data."""

    def postmaster_pid(self) -> int:
        return int((self.datadir / "postmaster.pid").read_text().splitlines()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash of the server would; wait until all are gone."""
        master = self.postmaster_pid()
        victims = [master, *_children(master)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(victims)
        # The dead postmaster stays a zombie until whoever adopted it reaps it (pg_ctl's child is reparented to
        # init; a container's init may reap late), and a new postmaster refuses the lock file of a pid that still
        # exists. Once it is gone, or dead for a while, the lock file is stale: what a crash leaves behind.
        deadline = time.monotonic() + 5
        while Path(f"/proc/{master}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{master}").exists():
            (self.datadir / "postmaster.pid").unlink()

    def restart(self) -> None:
        """``pg_ctl start`` on the same data directory and port: crash recovery, then it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -F -c max_connections=200"
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.datadir), "-o", opts, "-l", str(self.root / "log"), "-w", "-t", "60", "start")


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name (field 2) may hold spaces: the parent pid is the second field after its ")"
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pids: list[int], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still alive after SIGKILL: {[p for p in pids if _alive(p)]}"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------------------ city
@contextlib.contextmanager
def fault_city(work: Path) -> Iterator[tuple[City, PrivatePostgres]]:
    """The production shape, each part ours to kill: a private PostgreSQL, an anvil on a state file, the city set up
    as an operator does (``xacthuc init``, ``agency create``, ``chain deploy``), api-a, api-b, worker-1, worker-2.
    Everything is stopped (and the cluster removed) on the way out."""
    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries are missing (scripts/test.sh installs Debian's postgresql)")
    pg = PrivatePostgres(bindir)
    anvil = AnvilNode(
        find_anvil_binary(os.environ.get("XACTHUC_ANVIL_BIN") or None), state_file=work / "anvil" / "state.json"
    )
    city: City | None = None
    try:
        pg.start()
        anvil.start()
        secret = work / "secrets" / "keystore_passphrase"
        secret.parent.mkdir(mode=0o700, parents=True)
        secret.write_text("a passphrase for the fault tests\n", encoding="utf-8")
        secret.chmod(0o600)
        db_url = pg.create_database()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XACTHUC_", "PG"))}
        env.update(
            XACTHUC_DATA_DIR=str(work / "var"),
            XACTHUC_DATABASE_URL=db_url,
            XACTHUC_RPC_URL=anvil.url,
            XACTHUC_KEYSTORE_PASSPHRASE_FILE=str(secret),
            XACTHUC_PUBLIC_URL=PUBLIC,
            XACTHUC_BATCH_INTERVAL="1",
            XACTHUC_REVOKE_WAIT="2",  # a revocation not confirmed by then is answered 202 (and still arrives)
            XACTHUC_RATE_LIMITS="off",  # a load test, not an abuse test
            XACTHUC_LOG_LEVEL="INFO",
        )
        city = City(env, make_engine(db_url), anvil, {}, "", "", work)
        made = city.cli("init")
        created = city.cli(
            "agency", "create", "--name", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "--roles", "documents",
            "--id", "ubnd-hcm",
        )  # fmt: skip
        city.keys["ubnd-hcm"] = str(created["api_key"])
        city.agency_address = str(created["eth_address"])
        fund(anvil.url, str(made["admin_address"]), 10**21)
        city.contract = str(city.cli("chain", "deploy")["contract"])
        fund(anvil.url, str(city.cli("chain", "status")["relayer"]), 10**21)
        anvil.wait_for_state_dump()  # the registry and the balances survive the node's first SIGKILL
        for name in ("api-a", "api-b"):
            city.start(name, "serve", "--no-worker", port=free_port())
        city.start("worker-1", "worker")
        city.start("worker-2", "worker")
        for name in ("api-a", "api-b"):
            _wait_ready(city.procs[name])
        yield city, pg
    finally:
        if city is not None:
            for proc in city.procs.values():
                proc.stop()
            city.engine.dispose()
        anvil.stop()
        pg.stop()


def registry_of(city: City) -> Registry:
    return Registry.of(Web3(HTTPProvider(city.anvil.url)).eth.chain_id, city.contract)


# ------------------------------------------------------------------------------------------------------------ load
@dataclass
class Doc:
    """A document the service acknowledged (201), and what the load did to it since."""

    id: str
    verify_url: str
    api: str
    acked_at: float
    revoke_sent_at: float | None = None  # a revocation was requested (it may or may not take effect)
    revoked_at: float | None = None  # the service said the revocation is confirmed on chain (200, or GET later)


@dataclass
class Verification:
    """One ``POST /v1/verify`` and what it expected: ``genuine`` (a document as issued), ``revoked`` (one whose
    revocation was confirmed before the request), ``altered`` (its receipt's file hash changed, the signature kept)
    or ``wrong_file`` (the genuine payload with the hash of another file)."""

    case: str
    doc_id: str
    api: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all (connection refused or reset, timeout)
    verdict: str | None = None
    code: str | None = None  # the error code of a non-200 answer, or the exception's name without an answer
    root: str | None = None  # the anchored check's root, when it passed


@dataclass
class Attempt:
    what: str  # "issue" or "revoke"
    api: str
    started: float
    ended: float
    status: int | None
    code: str | None = None


def _error_code(r: httpx.Response) -> str | None:
    try:
        return str(r.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


def alter_payload(verify_url: str, registry: Registry) -> str:
    """The same receipt with one bit of its file hash flipped and the signature kept: well-formed, and forged."""
    payload = verify_url.split("#", 1)[1]
    receipt = decode_payload(payload, registry=registry)
    forged = bytes([receipt.file_sha256[0] ^ 1]) + receipt.file_sha256[1:]
    return encode_payload(dataclasses.replace(receipt, file_sha256=forged), registry=registry)


class Load:
    """Issuing, revoking and verifying at a steady pace from a few threads, against both APIs, every answer recorded.

    ``answers`` counts every finished request (whatever its outcome): the fault driver measures its moments in it."""

    def __init__(self, apis: list[str], api_key: str, registry: Registry, seed: int, pace: float = 0.2) -> None:
        self.apis = apis
        self.auth = {"Authorization": f"Bearer {api_key}"}
        self.registry = registry
        self.seed = seed
        self.pace = pace
        self.docs: dict[str, Doc] = {}
        self.verifications: list[Verification] = []
        self.attempts: list[Attempt] = []
        self.answers = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.failures: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        roles: list[tuple[str, Callable[[int, random.Random], None]]] = [
            ("issuer", self._issue_one),
            ("verifier-0", self._verify_one),
            ("verifier-1", self._verify_one),
            ("revoker", self._revoke_one),
        ]
        for k, (name, step) in enumerate(roles):
            thread = threading.Thread(target=self._run, args=(k, step), name=f"load-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=HTTP_TIMEOUT + 10)
        assert not any(t.is_alive() for t in self._threads), "a load thread did not stop"
        assert not self.failures, f"the load generator itself failed: {self.failures[0]!r}"

    def wait_answers(self, more: int, deadline_s: float = PROGRESS_DEADLINE) -> None:
        """Returns once ``more`` further requests have been answered (a moment measured in the load's progress)."""
        target = self.answers + more
        deadline = time.monotonic() + deadline_s
        while self.answers < target:
            assert not self.failures, f"the load generator itself failed: {self.failures[0]!r}"
            assert time.monotonic() < deadline, f"the load stalled at {self.answers} answers (waiting for {target})"
            time.sleep(0.02)

    def _run(self, k: int, step: Callable[[int, random.Random], None]) -> None:
        rng = random.Random(self.seed * 1000 + k)
        try:
            while not self.stopping.is_set():
                step(k, rng)
                self.stopping.wait(self.pace)  # the load's pace, not a wait for a condition
        except BaseException as exc:  # a bug in the harness, not an answer of the service: stop() reports it
            self.failures.append(exc)

    def _client(self, k: int, rng: random.Random) -> tuple[str, httpx.Client]:
        api = self.apis[rng.randrange(len(self.apis))]
        clients: dict[str, httpx.Client] = self.__dict__.setdefault(f"_clients_{k}", {})
        if api not in clients:
            clients[api] = httpx.Client(base_url=api, timeout=HTTP_TIMEOUT)
        return api, clients[api]

    def _answered(self) -> None:
        with self.lock:
            self.answers += 1

    # ------------------------------------------------------------------ the three kinds of request
    def _issue_one(self, k: int, rng: random.Random) -> None:
        api, client = self._client(k, rng)
        with self.lock:
            serial = len(self.attempts) + 1
        number = f"{k}{serial:06d}/QĐ-UBND"
        started = time.monotonic()
        try:
            r = client.post(
                "/v1/documents",
                data={**META, "number": number},
                files={"file": ("qd.pdf", f"%PDF-1.4 quyết định {number} {rng.random()}".encode(), "application/pdf")},
                headers=self.auth,
            )
        except httpx.HTTPError as exc:
            self.attempts.append(Attempt("issue", api, started, time.monotonic(), None, type(exc).__name__))
            self._answered()
            return
        ended = time.monotonic()
        self.attempts.append(Attempt("issue", api, started, ended, r.status_code, _error_code(r)))
        if r.status_code == 201:
            body = r.json()
            with self.lock:
                self.docs[str(body["id"])] = Doc(str(body["id"]), str(body["verify_url"]), api, ended)
        self._answered()

    def _verify_one(self, k: int, rng: random.Random) -> None:
        with self.lock:
            docs = list(self.docs.values())
        if not docs:
            return
        now = time.monotonic()
        revoked = [d for d in docs if d.revoked_at is not None]
        genuine = [d for d in docs if d.revoke_sent_at is None]
        case = rng.choice(["genuine", "genuine", "altered", "wrong_file", "revoked"])
        pool = revoked if case == "revoked" else genuine if case in ("genuine", "wrong_file") else docs
        if not pool:
            case, pool = "altered", docs
        doc = pool[rng.randrange(len(pool))]
        body: dict[str, str] = {"payload": doc.verify_url}
        if case == "altered":
            body["payload"] = alter_payload(doc.verify_url, self.registry)
        elif case == "wrong_file":
            body["sha256"] = hashlib.sha256(f"another file {rng.random()}".encode()).hexdigest()
        api, client = self._client(k, rng)
        record = Verification(case, doc.id, api, now, now, None)
        try:
            r = client.post("/v1/verify", json=body)
        except httpx.HTTPError as exc:
            record.code = type(exc).__name__
        else:
            record.status = r.status_code
            if r.status_code == 200:
                report = r.json()
                record.verdict = str(report["verdict"])
                for check in report["checks"]:
                    if check["name"] == "anchored" and check["status"] == "valid":
                        record.root = check.get("data", {}).get("root")
            else:
                record.code = _error_code(r)
        record.ended = time.monotonic()
        self.verifications.append(record)
        self._answered()

    def _revoke_one(self, k: int, rng: random.Random) -> None:
        with self.lock:
            waiting = [d for d in self.docs.values() if d.revoke_sent_at is not None and d.revoked_at is None]
            fresh = [d for d in self.docs.values() if d.revoke_sent_at is None]
        api, client = self._client(k, rng)
        for doc in waiting:  # a revocation answered 202 counts once the service shows it confirmed
            try:
                r = client.get(f"/v1/documents/{doc.id}")
            except httpx.HTTPError:
                return
            if r.status_code == 200 and r.json()["status"] == "revoked":
                doc.revoked_at = time.monotonic()
        if len(fresh) < 4 or rng.random() > 0.25:  # about one document in ten is revoked
            return
        doc = fresh[rng.randrange(len(fresh) // 2)]  # an older one: likely anchored by now
        try:
            r = client.get(f"/v1/documents/{doc.id}")
            if r.status_code != 200 or r.json()["status"] != "anchored":
                return
            doc.revoke_sent_at = started = time.monotonic()
            r = client.post(f"/v1/documents/{doc.id}/revoke", json={"reason": "annulled"}, headers=self.auth)
        except httpx.HTTPError as exc:
            self.attempts.append(Attempt("revoke", api, time.monotonic(), time.monotonic(), None, type(exc).__name__))
            self._answered()
            return
        ended = time.monotonic()
        self.attempts.append(Attempt("revoke", api, started, ended, r.status_code, _error_code(r)))
        if r.status_code == 200 and r.json()["status"] == "revoked":
            doc.revoked_at = ended
        self._answered()


# ---------------------------------------------------------------------------------------------------------- faults
@dataclass
class Fault:
    kind: str
    target: str
    killed_at: float
    restarted_at: float = 0.0
    recovered_at: float = 0.0


class Faults:
    """SIGKILLs the city's parts in turn at seeded moments of the load, restarts them and waits for recovery."""

    def __init__(self, city: City, pg: PrivatePostgres, load: Load, rng: random.Random) -> None:
        self.city = city
        self.pg = pg
        self.load = load
        self.rng = rng
        self.done: list[Fault] = []

    def round(self) -> None:
        for kind in FAULTS:
            self.inject(kind)

    def inject(self, kind: str) -> Fault:
        self.load.wait_answers(self.rng.randint(10, 40))  # the seeded moment
        outage = self.rng.randint(3, 12)  # answers (mostly failures) while the part is dead
        if kind == "anvil":
            fault = Fault(kind, "anvil", time.monotonic())
            self.city.anvil.kill()
            self._outage(outage)
            fault.restarted_at = time.monotonic()
            self.city.anvil.start()  # on its port and its state file: the chain up to its last dump
        elif kind == "postgres":
            fault = Fault(kind, "postgres", time.monotonic())
            self.pg.kill()
            self._outage(outage)
            fault.restarted_at = time.monotonic()
            self.pg.restart()
        elif kind == "api":
            name = self.rng.choice(["api-a", "api-b"])
            fault = Fault(kind, name, time.monotonic())
            proc = self._kill(name)
            self._outage(outage)
            fault.restarted_at = time.monotonic()
            assert proc.base is not None
            self.city.start(name, "serve", "--no-worker", port=int(proc.base.rsplit(":", 1)[1]))
        else:
            name = self._leading_worker()
            fault = Fault(kind, name, time.monotonic())
            self._kill(name)
            self._outage(outage)
            fault.restarted_at = time.monotonic()
            offset = self.city.procs[name].log.stat().st_size
            restarted = self.city.start(name, "worker")
            self._wait_log(restarted, offset, (WAITING, LEADING))  # it stands by (or leads, if the standby died)
        self._wait_recovered()
        fault.recovered_at = time.monotonic()
        self.done.append(fault)
        return fault

    def _outage(self, answers: int) -> None:
        """Lets the load run against the dead part for ``answers`` more answers (or a few seconds, if every request
        hangs meanwhile: that is for the reconciliation to judge, not this wait)."""
        target = self.load.answers + answers
        deadline = time.monotonic() + 10
        while self.load.answers < target and time.monotonic() < deadline:
            time.sleep(0.02)

    def _kill(self, name: str) -> Proc:
        proc = self.city.procs[name]
        os.killpg(proc.popen.pid, signal.SIGKILL)
        proc.popen.wait()
        return proc

    def _leading_worker(self) -> str:
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while len(holders := self.city.lock_holders()) != 1:
            assert time.monotonic() < deadline, f"no single leading worker: {holders}"
            time.sleep(0.05)
        return holders[0]

    def _wait_log(self, proc: Proc, offset: int, lines: tuple[str, ...]) -> None:
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while not any(line in proc.log.read_text("utf-8", "replace")[offset:] for line in lines):
            assert proc.popen.poll() is None, proc.text()
            assert time.monotonic() < deadline, f"{proc.name} did not start:\n{proc.text()[-4000:]}"
            time.sleep(0.1)

    def _wait_recovered(self) -> None:
        """Both APIs ready (database and chain reachable) and exactly one worker holding the lock."""
        deadline = time.monotonic() + RECOVERY_DEADLINE
        for name in ("api-a", "api-b"):
            proc = self.city.procs[name]
            while True:
                assert proc.popen.poll() is None, proc.text()[-4000:]
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{proc.base}/readyz", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{proc.name} not ready again:\n{proc.text()[-4000:]}"
                time.sleep(0.1)
        while True:
            with contextlib.suppress(Exception):
                if len(self.city.lock_holders()) == 1:
                    return
            assert time.monotonic() < deadline, "no worker leads again"
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------------- reconciliation
@dataclass
class Figures:
    """What a run did and what the reconciliation found: ``lost`` and ``wrong_verdicts`` must be empty."""

    seed: int
    faults: list[dict[str, Any]] = field(default_factory=list)
    issue_attempts: int = 0
    acknowledged: int = 0
    stored: int = 0
    revocations_confirmed: int = 0
    verifications: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    unavailable_answers: dict[str, int] = field(default_factory=dict)  # non-200 and unanswered verifications
    issue_failures: dict[str, int] = field(default_factory=dict)
    revocations: dict[str, int] = field(default_factory=dict)  # answers to POST .../revoke (200, 202, 409 ...)
    lost: list[str] = field(default_factory=list)
    wrong_verdicts: list[str] = field(default_factory=list)
    not_exactly_once: list[str] = field(default_factory=list)
    final_sweep_wrong: list[str] = field(default_factory=list)
    untyped: list[str] = field(default_factory=list)  # issue or revoke answered 5xx without a typed code

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "faults_injected": len(self.faults),
            "faults_by_kind": dict(Counter(f["kind"] for f in self.faults)),
            "documents_acknowledged": self.acknowledged,
            "documents_stored": self.stored,
            "documents_lost": len(self.lost),
            "revocations_confirmed": self.revocations_confirmed,
            "verifications": self.verifications,
            "verdicts": self.verdicts,
            "wrong_verdicts": len(self.wrong_verdicts) + len(self.final_sweep_wrong),
            "not_exactly_once": len(self.not_exactly_once),
            "untyped_5xx": len(self.untyped),
            "verifications_unavailable": self.unavailable_answers,
            "issue_attempts": self.issue_attempts,
            "issue_failures": self.issue_failures,
            "revoke_answers": self.revocations,
            "recovery_seconds": [round(f["recovered_at"] - f["killed_at"], 1) for f in self.faults],
        }

    def problems(self) -> list[str]:
        return [*self.lost, *self.not_exactly_once, *self.wrong_verdicts, *self.final_sweep_wrong, *self.untyped]


def judge(v: Verification, doc: Doc, final_root: str | None) -> str | None:
    """Why this answer was wrong, or None. No answer, ``error`` and a typed 5xx are always allowed (the state may
    have been unavailable); every verdict given must be the true one at the time."""
    where = f"{v.case} {v.doc_id} on {v.api} at {v.started:.1f}"
    if v.status is None:
        return None
    if v.status >= 500:
        return None if v.code not in (None, "INTERNAL_ERROR") else f"{where}: untyped {v.status} {v.code}"
    if v.status != 200:
        return None if v.case == "altered" and 400 <= v.status < 500 else f"{where}: answered {v.status} {v.code}"
    verdict = v.verdict
    if v.case in ("altered", "wrong_file"):
        return f"{where}: valid" if verdict == "valid" else None
    if v.case == "revoked":
        return None if verdict in ("revoked", "error") else f"{where}: {verdict} after its revocation was confirmed"
    revoking = doc.revoke_sent_at is not None and v.ended >= doc.revoke_sent_at
    allowed = GENUINE_VERDICTS | ({"revoked"} if revoking else set())
    if verdict not in allowed:
        return f"{where}: {verdict} for a genuine document"
    if verdict == "valid" and (v.root is None or v.root != final_root):
        return f"{where}: valid under root {v.root}, but the document is anchored under {final_root}"
    return None


def _chain_problems(city: City, stored: dict[str, DocumentRow]) -> tuple[list[str], dict[str, str]]:
    """Every stored document's leaf in exactly one anchored batch, each batch's root anchored by exactly one
    ``Anchored`` event whose count is the batch's leaves, and the registry's own answer for every leaf. Returns the
    problems and each document's root."""
    problems: list[str] = []
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
    events = Counter(bytes(log["topics"][2]) for log in logs)
    counts = {bytes(log["topics"][2]): int.from_bytes(bytes(log["data"])[-32:], "big") for log in logs}
    problems += [f"root 0x{root.hex()} anchored {n} times" for root, n in events.items() if n != 1]
    with Session(city.engine) as session:
        leaves = session.exec(select(AnchorLeaf)).all()
        batches = {b.id: b for b in session.exec(select(AnchorBatch)).all()}
    by_data = Counter(bytes(row.data) for row in leaves)
    per_batch = Counter(row.batch_id for row in leaves)
    problems += [f"leaf 0x{data.hex()} queued {n} times" for data, n in by_data.items() if n != 1]
    for batch_id, n in per_batch.items():
        batch = None if batch_id is None else batches[batch_id]
        if batch is None:
            problems.append(f"{n} leaves in no batch")
        elif counts.get(bytes(batch.root)) != n:
            problems.append(f"batch {batch_id}: {n} leaves, event count {counts.get(bytes(batch.root))}")
    if sum(counts.values()) != len(leaves):
        problems.append(f"events count {sum(counts.values())} leaves, the database holds {len(leaves)}")
    root_of_leaf = {bytes(row.data): bytes(batches[row.batch_id].root) for row in leaves if row.batch_id is not None}
    reader = RegistryReader(w3, city.contract)
    roots: dict[str, str] = {}
    for doc_id, row in stored.items():
        root = root_of_leaf.get(bytes(row.commitment))
        if root is None:
            problems.append(f"document {doc_id} has no anchored batch")
            continue
        roots[doc_id] = "0x" + root.hex()
        status = reader.status(city.agency_address, root, bytes(row.commitment))
        if status.anchorer is None:
            problems.append(f"document {doc_id}: the registry does not have it anchored by its agency")
    return problems, roots


def _revocations_missing_on_chain(city: City, docs: dict[str, Doc]) -> list[str]:
    """The documents whose revocation was answered as done that the registry itself does not show revoked (yet)."""
    done = {d.id for d in docs.values() if d.revoked_at is not None}
    if not done:
        return []
    d, leaf, batch = DocumentRow.__table__, AnchorLeaf.__table__, AnchorBatch.__table__  # type: ignore[attr-defined]
    query = sa_select(d.c.id, d.c.commitment, batch.c.root).select_from(
        d.join(leaf, leaf.c.data == d.c.commitment).join(batch, batch.c.id == leaf.c.batch_id)
    )
    with city.engine.connect() as conn:
        rows = [r for r in conn.execute(query).all() if r.id in done]
    reader = RegistryReader(Web3(HTTPProvider(city.anvil.url, request_kwargs={"timeout": 10})), city.contract)
    return [
        r.id for r in rows if reader.status(city.agency_address, bytes(r.root), bytes(r.commitment)).revoked_at is None
    ]


def _revocation_story(city: City, docs: dict[str, Doc], ids: list[str]) -> str:
    """For a failure message: each missing revocation's outbox row, and what the node says of its transaction."""
    w3 = Web3(HTTPProvider(city.anvil.url, request_kwargs={"timeout": 10}))
    lines = [f"chain head {w3.eth.block_number}"]
    with Session(city.engine) as session:
        rows = {row.document_id: row for row in session.exec(select(RevocationTx)).all()}
    for doc_id in ids:
        row = rows.get(doc_id)
        if row is None:
            lines.append(f"{doc_id}: no outbox row")
            continue
        receipt: Any = None
        if row.tx_hash:
            with contextlib.suppress(Exception):
                receipt = w3.eth.get_transaction_receipt(HexBytes(row.tx_hash))
        mined = None if receipt is None else (receipt["status"], receipt["blockNumber"], receipt["blockHash"].hex())
        lines.append(
            f"{doc_id}: state {row.state} attempts {row.attempts} nonce {row.nonce} block {row.block_number}"
            f" {row.block_hash} tx {row.tx_hash} error {row.last_error!r}; the node's receipt {mined}"
        )
    return "; ".join(lines)


def _wait_settled(city: City, api: str, docs: dict[str, Doc], deadline_s: float = 180.0) -> None:
    """Every stored document anchored, every requested revocation settled (the outbox drained), and every
    revocation answered as done on the chain itself: a node that came back from an older state lost the blocks of
    some, and the worker sends those again (it finds them at its next look, within seconds), so the sweep judges
    the chain only once it had the time to. Not being there by the deadline is a loss."""
    deadline = time.monotonic() + deadline_s
    d, leaf, batch = DocumentRow.__table__, AnchorLeaf.__table__, AnchorBatch.__table__  # type: ignore[attr-defined]
    done = (BatchState.CONFIRMED.value, BatchState.FINAL.value)
    query = (
        sa_select(func.count())
        .select_from(d.outerjoin(leaf, leaf.c.data == d.c.commitment).outerjoin(batch, batch.c.id == leaf.c.batch_id))
        .where(or_(batch.c.state.is_(None), batch.c.state.not_in(done)))
    )
    while True:
        with city.engine.connect() as conn:
            waiting = int(conn.execute(query).scalar_one())
        revoking = [d for d in docs.values() if d.revoke_sent_at is not None and d.revoked_at is None]
        for doc in revoking:
            r = httpx.get(f"{api}/v1/documents/{doc.id}", timeout=HTTP_TIMEOUT)
            if r.status_code == 200 and r.json()["status"] == "revoked":
                doc.revoked_at = time.monotonic()
        with Session(city.engine) as session:
            revocations = pending_revocations(session)
        missing = _revocations_missing_on_chain(city, docs) if waiting == 0 and revocations == 0 else None
        if missing == []:
            return
        assert time.monotonic() < deadline, (
            f"{waiting} documents still not anchored, {revocations} revocations not yet on chain, revocations"
            f" answered as done and missing on chain: {missing}; {_revocation_story(city, docs, missing or [])}"
        )
        time.sleep(0.2)


def reconcile(city: City, load: Load, faults: list[Fault], seed: int) -> Figures:
    """After recovery: nothing acknowledged lost, everything anchored exactly once, no wrong verdict (during the
    run, and in a final sweep that verifies every document once more)."""
    api = str(city.procs["api-a"].base)
    _wait_settled(city, api, load.docs)
    with Session(city.engine) as session:
        stored = {row.id: row for row in session.exec(select(DocumentRow)).all()}
    fig = Figures(seed=seed, faults=[dataclasses.asdict(f) for f in faults])
    fig.issue_attempts = sum(1 for a in load.attempts if a.what == "issue")
    answers = Counter((a.what, f"{a.status} {a.code}") for a in load.attempts if (a.what, a.status) != ("issue", 201))
    fig.issue_failures = {k: n for (what, k), n in answers.items() if what == "issue"}
    fig.revocations = {k: n for (what, k), n in answers.items() if what == "revoke"}
    fig.untyped = [
        f"{a.what} on {a.api} at {a.started:.1f}: {a.status} {a.code}"
        for a in load.attempts
        if a.status is not None and a.status >= 500 and a.code in (None, "INTERNAL_ERROR")
    ]
    fig.acknowledged = len(load.docs)
    fig.stored = len(stored)
    fig.lost = [f"document {i} was answered 201 and is not stored" for i in load.docs if i not in stored]
    fig.not_exactly_once, roots = _chain_problems(city, stored)
    fig.verifications = len(load.verifications)
    fig.verdicts = dict(Counter(f"{v.case}:{v.verdict}" for v in load.verifications if v.status == 200))
    fig.unavailable_answers = dict(Counter(f"{v.status} {v.code}" for v in load.verifications if v.status != 200))
    for v in load.verifications:
        if (why := judge(v, load.docs[v.doc_id], roots.get(v.doc_id))) is not None:
            fig.wrong_verdicts.append(why)
    fig.revocations_confirmed = sum(1 for d in load.docs.values() if d.revoked_at is not None)
    fig.final_sweep_wrong = _final_sweep(city, load, roots)
    return fig


def _final_sweep(city: City, load: Load, roots: dict[str, str]) -> list[str]:
    """Every revoked document and half of the others verified once more, on each API in turn, now that everything
    is up: each is ``valid`` under its anchored root, or ``revoked`` when a revocation was requested (it is on chain
    now), and its altered twin is not ``valid``."""
    wrong: list[str] = []
    apis = [str(city.procs["api-a"].base), str(city.procs["api-b"].base)]
    reader = RegistryReader(Web3(HTTPProvider(city.anvil.url, request_kwargs={"timeout": 10})), city.contract)
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        for n, doc in enumerate(load.docs.values()):
            if n % 2 and doc.revoke_sent_at is None:
                continue  # every revoked document, half of the others: the run's budget
            api = apis[n % 4 // 2]
            r = client.post(f"{api}/v1/verify", json={"payload": doc.verify_url})
            verdict = r.json().get("verdict") if r.status_code == 200 else f"HTTP {r.status_code}"
            expected = "valid" if doc.revoke_sent_at is None else "revoked"
            if doc.revoked_at is not None or doc.revoke_sent_at is not None:
                # the registry itself: a revocation that took effect is on chain (the outbox drained)
                with Session(city.engine) as session:
                    row = session.get(DocumentRow, doc.id)
                assert row is not None
                status = reader.status(city.agency_address, bytes.fromhex(roots[doc.id][2:]), bytes(row.commitment))
                if doc.revoked_at is not None and status.revoked_at is None:
                    wrong.append(f"{doc.id}: its revocation was confirmed, the registry does not have it")
                expected = "revoked" if status.revoked_at is not None else "valid"
            if verdict != expected:
                wrong.append(f"final sweep {doc.id} on {api}: {verdict}, expected {expected}")
            if n % 10 == 0:
                forged = alter_payload(doc.verify_url, load.registry)
                r = client.post(f"{api}/v1/verify", json={"payload": forged})
                if r.status_code == 200 and r.json().get("verdict") == "valid":
                    wrong.append(f"final sweep: the altered {doc.id} verified valid on {api}")
    return wrong


def run(work: Path, seed: int, rounds: int, after: int = 20) -> Figures:
    """The whole exercise: the city, the load, ``rounds`` rounds of the four kills, the reconciliation."""
    rng = random.Random(seed)
    with fault_city(work) as (city, pg):
        apis = [str(city.procs[n].base) for n in ("api-a", "api-b")]
        load = Load(apis, city.keys["ubnd-hcm"], registry_of(city), seed)
        faults = Faults(city, pg, load, rng)
        load.start()
        try:
            for _ in range(rounds):
                faults.round()
            load.wait_answers(after)  # the load goes on a while on the recovered city
        finally:
            load.stop()
        return reconcile(city, load, faults.done, seed)


def log_tails(work: Path, chars: int = 3000) -> str:
    """The last lines of every process's log (for a failure's report)."""
    out = []
    for log in sorted(work.glob("*.log")):
        out.append(f"--- {log.name}\n{log.read_text('utf-8', 'replace')[-chars:]}")
    return "\n".join(out)
