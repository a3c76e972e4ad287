"""How long the anchoring worker idles between passes (``xacthuc.worker.WorkerThread``): at once after a busy pass;
after quiet ones ``poll``, doubling up to ``idle_max``; never past the moment the oldest waiting leaf is due to be cut.
The waits are read from the thread's stop event, not timed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.chain.anchoring import Anchorer, StepReport, WorkerConfig
from ledger.chain.outbox import enqueue_many, next_cut_at
from xacthuc.worker import WorkerLock, WorkerThread

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
AGENCY = "0x" + "11" * 20


class ScriptedAnchorer(Anchorer):
    """Passes that are busy or quiet as scripted (the last repeats), over a real database and a set clock."""

    def __init__(self, engine: Engine, busy: list[bool], now: datetime) -> None:
        self.engine = engine
        self.config = WorkerConfig(batch_interval=timedelta(seconds=2))
        self.clock = lambda: now
        self.busy = busy
        self.steps = 0

    def step(self, *, force: bool = False) -> StepReport:
        busy = self.busy[min(self.steps, len(self.busy) - 1)]
        self.steps += 1
        return StepReport(sent=1) if busy else StepReport()


class HeldLock(WorkerLock):
    def __init__(self) -> None:
        pass

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class RecordedWaits:
    """Stands in for the thread's stop event: records each wait and stops the thread after ``n`` of them."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return len(self.waits) >= self.n

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(round(timeout, 3))
        return self.is_set()


IdleWaits = Callable[..., list[float]]


@pytest.fixture
def idle_waits(engine: Engine) -> Iterator[IdleWaits]:
    def run(busy: list[bool], n: int, now: datetime = T0) -> list[float]:
        thread = WorkerThread(ScriptedAnchorer(engine, busy, now), HeldLock(), poll=0.25, idle_max=2.0)
        stop = RecordedWaits(n)
        thread._stop = stop  # type: ignore[assignment]
        thread._lead()
        return stop.waits

    yield run


def queue_leaf(engine: Engine, at: datetime) -> None:
    with Session(engine) as session:
        enqueue_many(session, AGENCY, [hashlib.sha256(at.isoformat().encode()).digest()], at)
        session.commit()


def test_quiet_passes_idle_longer_each_time_up_to_the_maximum(idle_waits: IdleWaits) -> None:
    assert idle_waits([False], 6) == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_a_busy_pass_is_followed_at_once_and_starts_the_idling_over(idle_waits: IdleWaits) -> None:
    # quiet, quiet, quiet, busy (no wait), quiet, quiet: the waits start over at poll after the busy pass
    assert idle_waits([False, False, False, True, False, False], 5) == [0.25, 0.5, 1.0, 0.25, 0.5]


def test_a_waiting_leaf_shortens_the_idle_to_when_it_is_due(idle_waits: IdleWaits, engine: Engine) -> None:
    queue_leaf(engine, T0 - timedelta(seconds=1.4))  # due at T0 + 0.6 s (the batch interval is 2 s)
    assert idle_waits([False], 5) == [0.25, 0.5, 0.6, 0.6, 0.6]


def test_an_overdue_leaf_is_looked_at_again_after_poll(idle_waits: IdleWaits, engine: Engine) -> None:
    queue_leaf(engine, T0 - timedelta(seconds=30))  # a pass that cannot cut it (the node is down) keeps polling
    assert idle_waits([False], 4) == [0.25, 0.25, 0.25, 0.25]


def test_next_cut_at_is_the_oldest_unbatched_leaf_plus_the_interval(engine: Engine) -> None:
    with Session(engine) as session:
        assert next_cut_at(session, timedelta(seconds=2)) is None
    queue_leaf(engine, T0)
    queue_leaf(engine, T0 - timedelta(seconds=5))
    with Session(engine) as session:
        assert next_cut_at(session, timedelta(seconds=2)) == T0 - timedelta(seconds=3)
