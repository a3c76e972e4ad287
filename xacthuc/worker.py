"""The anchoring worker loop, as a thread inside ``serve`` or as the ``xacthuc worker`` process, or run in the
foreground by a command (``xacthuc anchor``, ``doc revoke``) until its work is done.

Only one worker may drive an agency's account at a time (nonces!). PostgreSQL elects it with an advisory lock, so
replicas can all run ``xacthuc worker`` and exactly one works; SQLite (one machine) uses a lock file in the data dir.
The chain indexer's loop lives here too: it only reads the chain, so every replica runs one.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from ledger.chain.anchoring import Anchorer, StepReport
from ledger.chain.index import ChainIndexer
from ledger.chain.outbox import next_cut_at
from ledger.errors import ChainUnavailable

log = logging.getLogger("xacthuc.worker")

ADVISORY_LOCK_KEY = 0x78616374  # "xact"
#: Seconds a standby waits between tries for the lock: a dead leader's lock is free as soon as PostgreSQL sees its
#: connection close, so this bounds the takeover (docs/operations.md, "Scaling out").
STANDBY_RETRY = 5.0
#: The longest an idle anchoring worker waits between passes (``WorkerThread``).
IDLE_MAX = 2.0


class WorkerLock:
    """Held while this process is the anchoring worker."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.path = data_dir / "worker.lock"
        self._fh: IO[str] | None = None
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar())
                # A session-level lock outlives the transaction: end it, so the holder idles as "idle", not "idle
                # in transaction" (a server's idle_in_transaction_session_timeout would end the session and lock).
                conn.commit()
            except BaseException:
                conn.close()
                raise
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the worker's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self._fh = fh
        return True

    def held(self) -> bool:
        """Whether the lock is still ours. PostgreSQL holds it as long as its session lives: one round trip on
        that connection answers (a lost connection is forgotten here, and the lock with it)."""
        if self._conn is None:
            return self._fh is not None
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            with suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with suppress(Exception):  # a lost session has released the lock already
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            with suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@contextmanager
def worker_lock(engine: Engine, data_dir: Path) -> Iterator[bool]:
    lock = WorkerLock(engine, data_dir)
    got = lock.try_acquire()
    try:
        yield got
    finally:
        if got:
            lock.release()


def drive_outbox(
    engine: Engine,
    data_dir: Path,
    anchorer: Callable[[], Anchorer],
    left: Callable[[Session], int],
    *,
    wait: bool,
    timeout: float,
    tick: Callable[[int], None] = lambda _: None,
    check: Callable[[], None] = lambda: None,
) -> tuple[int, int]:
    """Run worker passes until ``left`` (what is still to do) is 0, or ``timeout`` seconds have passed; when
    another process (``serve``, ``worker``) is the anchoring worker, wait for it instead of competing.

    ``check`` raises when what is left cannot go out (the sending account cannot pay: ``ANCHOR_ACCOUNT_UNFUNDED``):
    asked after every pass that leaves work, so a wait fails with the reason instead of running into the timeout.
    Returns (transactions confirmed by our own passes, what is left). Without ``wait``, one pass.
    """
    deadline = time.monotonic() + timeout
    confirmed = 0
    with worker_lock(engine, data_dir) as we_are_worker:
        ours = anchorer() if we_are_worker else None
        while True:
            busy = False
            if ours is not None:
                report = ours.step(force=True)
                confirmed += report.confirmed
                busy = report.busy
            with Session(engine) as session:
                remaining = left(session)
            tick(remaining)
            if remaining:
                check()
            if not wait or remaining == 0 or time.monotonic() > deadline:
                return confirmed, remaining
            if not busy:
                time.sleep(0.2)


class BackgroundLoop:
    """A daemon thread running ``_run`` until :meth:`stop`; ``_run`` waits on ``self._stop`` between passes."""

    name = "background"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError


class WorkerThread(BackgroundLoop):
    """Runs ``Anchorer.step`` until stopped. After a busy pass the next one follows at once; after a quiet one it
    idles ``poll`` seconds, twice that after the next quiet one, and so on up to ``idle_max``, but never past the
    moment the oldest waiting leaf is due to be cut. An idle server thus looks at its database and its node every
    ``idle_max`` seconds rather than four times a second (measured: that cost the sequential verification rate of
    ``xacthuc serve`` 6 %, docs/benchmarks.md), and a new leaf is still cut when due."""

    name = "anchoring-worker"

    def __init__(self, anchorer: Anchorer, lock: WorkerLock, poll: float = 0.25, idle_max: float = IDLE_MAX) -> None:
        super().__init__()
        self.anchorer = anchorer
        self.lock = lock
        self.poll = poll
        self.idle_max = max(poll, idle_max)
        self.last: StepReport | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._stand_by():
                self._lead()

    def _stand_by(self) -> bool:
        """Try for the lock every ``STANDBY_RETRY`` seconds until this process holds it (True) or is stopped."""
        said = False
        while not self._stop.is_set():
            try:
                if self.lock.try_acquire():
                    log.info("this process is the anchoring worker now (it holds the worker lock)")
                    return True
            except Exception as exc:  # the database is unreachable: keep standing by, never end the thread
                log.warning("the worker lock cannot be asked for: %s", type(exc).__name__)
            else:
                if not said:  # once, not at every retry
                    log.info("another process is the anchoring worker; standing by (trying every %g s)", STANDBY_RETRY)
                    said = True
            self._stop.wait(STANDBY_RETRY)
        return False

    def _lead(self) -> None:
        """Anchor until stopped, or until the lock's database session is gone (a restarted or failed-over
        database, a terminated backend): then another worker may hold the lock, so this one stops at once and
        stands by again rather than drive the same accounts' nonces beside it."""
        try:
            backoff = self.poll
            while not self._stop.is_set():
                if not self.lock.held():
                    log.error("the worker lock was lost (its database session ended); standing by again")
                    return
                try:
                    self.last = self.anchorer.step()
                    busy = self.last.busy
                except Exception:
                    log.exception("anchoring pass failed")
                    busy = False
                if busy:
                    backoff = self.poll
                    continue
                self._stop.wait(self._idle(backoff))
                backoff = min(backoff * 2, self.idle_max)
        finally:
            self.lock.release()

    def _idle(self, backoff: float) -> float:
        """Seconds to idle after a quiet pass: ``backoff``, or less when the oldest waiting leaf is due sooner."""
        try:
            with Session(self.anchorer.engine) as session:
                due = next_cut_at(session, self.anchorer.config.batch_interval)
        except Exception:  # the database is unreachable: the next pass reports it
            return backoff
        if due is None:
            return backoff
        return min(backoff, max(self.poll, (due - self.anchorer.clock()).total_seconds()))


class IndexerThread(BackgroundLoop):
    """Runs ``ChainIndexer.sync`` every ``poll`` seconds; while the node is down, backs off up to ``max_backoff``.

    It only reads the chain, so every API replica may run one: their writes to shared tables are conditional on
    the cursor they read, and a replica that finds the cursor moved just reloads it.
    """

    name = "chain-indexer"

    def __init__(self, indexer: ChainIndexer, poll: float = 0.5, max_backoff: float = 8.0) -> None:
        super().__init__()
        self.indexer = indexer
        self.poll = poll
        self.max_backoff = max_backoff
        self.failures = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.indexer.sync()
                if self.failures:
                    log.info("chain index: syncing again after %d failed attempts", self.failures)
                self.failures = 0
            except ChainUnavailable as exc:
                if self.failures == 0:  # once per outage; meanwhile the index ages and goes stale
                    log.warning("chain index: the node cannot be read (%s); backing off", exc)
                self.failures += 1
            except Exception:
                log.exception("chain index: sync failed")
                self.failures += 1
            delay = self.poll if self.failures == 0 else min(self.poll * 2**self.failures, self.max_backoff)
            self._stop.wait(delay)
