"""The anchoring worker's election (``xacthuc/worker.py``): the PostgreSQL advisory lock, a leader that loses its
database session, a standby that cannot reach the database. The whole shape (processes, SIGKILL, takeover) is
``tests/e2e/test_scaled_out.py``; these pin the pieces, fast."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ledger.chain.anchoring import Anchorer, StepReport
from tests.plugins.db import PostgresServer
from xacthuc import worker
from xacthuc.database import make_engine
from xacthuc.worker import ADVISORY_LOCK_KEY, WorkerLock, WorkerThread

DEADLINE = 30.0  # seconds a thread may take to get where the test waits for it: a deadline, not a measurement


class FakeLock(WorkerLock):
    """A lock whose answers the test scripts: ``acquire`` (one per try; the last repeats) and ``held`` (True
    ``held_for`` times, then False)."""

    def __init__(self, acquire: list[bool | Exception], held_for: int = 1_000_000) -> None:
        self.acquire = acquire
        self.tries = 0
        self.held_for = held_for
        self.held_asked = 0
        self.releases = 0

    def try_acquire(self) -> bool:
        answer = self.acquire[min(self.tries, len(self.acquire) - 1)]
        self.tries += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def held(self) -> bool:
        self.held_asked += 1
        return self.held_asked <= self.held_for

    def release(self) -> None:
        self.releases += 1


class CountingAnchorer(Anchorer):
    def __init__(self) -> None:
        self.steps = 0
        self.stepped = threading.Event()

    def step(self, *, force: bool = False) -> StepReport:
        self.steps += 1
        self.stepped.set()
        return StepReport()


def _until(what: str, condition: object) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "STANDBY_RETRY", 0.01)


def test_a_standby_keeps_trying_while_the_database_cannot_be_reached() -> None:
    down = OperationalError("SELECT pg_try_advisory_lock(1)", {}, Exception("connection refused"))
    lock = FakeLock([down, down, False, True])
    anchorer = CountingAnchorer()
    thread = WorkerThread(anchorer, lock, poll=0.01)
    thread.start()
    try:
        assert anchorer.stepped.wait(DEADLINE), "the standby never led after the database came back"
        assert lock.tries == 4
    finally:
        thread.stop()


def test_a_leader_that_loses_its_lock_stops_and_stands_by_again() -> None:
    lock = FakeLock([True, False], held_for=3)  # leads, its session ends after 3 passes, another worker holds it
    anchorer = CountingAnchorer()
    thread = WorkerThread(anchorer, lock, poll=0.01)
    thread.start()
    try:
        _until("the worker standing by again", lambda: lock.tries >= 3)
        assert anchorer.steps == 3  # not one pass after the lock was lost
        assert lock.releases == 1
    finally:
        thread.stop()


@pytest.fixture
def pg_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    engine = make_engine(postgres_server.create_database())
    yield engine
    engine.dispose()


def _holder_state(engine: Engine) -> list[str]:
    query = text(
        "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :k"
    )
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query, {"k": ADVISORY_LOCK_KEY})]


@pytest.mark.postgres
def test_the_advisory_lock_elects_one_and_is_lost_with_its_session(pg_engine: Engine, tmp_path: Path) -> None:
    leader, standby = WorkerLock(pg_engine, tmp_path), WorkerLock(pg_engine, tmp_path)
    assert leader.try_acquire()
    assert not standby.try_acquire()
    assert leader.held()
    # Outside a transaction: a server's idle_in_transaction_session_timeout cannot take the lock away.
    assert _holder_state(pg_engine) == ["idle"]
    with pg_engine.connect() as conn:
        pid = conn.execute(
            text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = :k"),
            {"k": ADVISORY_LOCK_KEY},
        ).scalar_one()
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    _until("the ended session's lock to be free", lambda: _holder_state(pg_engine) == [])
    assert not leader.held()  # the leader finds out at its next pass
    assert standby.try_acquire()
    leader.release()  # a lost lock releases without an error
    assert standby.held()
    standby.release()
    assert _holder_state(pg_engine) == []
