"""The anchoring worker: moves batches from the outbox to the chain, one persisted step at a time.

States (``ledger.outbox.BatchState``): built -> sent -> confirmed -> final, each committed before the next step
acts, so a crash anywhere resumes from the database:

* built: sign the ``anchor`` transaction with the next nonce, persist nonce, hash and raw bytes (state sent), then
  broadcast. A crash after the commit and before the broadcast leaves a sent batch whose transaction the node does
  not know: it is broadcast again (same bytes, same hash: it can be mined at most once).
* sent: a receipt with status 1 and enough confirmations makes it confirmed (block number, hash, time). Status 0,
  or a transaction the node has forgotten whose nonce was taken by something else, sends it again with a fresh
  nonce. The registry refuses a second anchor of a root, so no root is ever anchored twice; a root found already
  anchored by our own account counts as done.
* confirmed: re-checked until it is ``finality_depth`` blocks deep. A re-organisation that drops the transaction
  (no receipt, or a receipt in another block) is detected there and the batch goes back to sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.chain import AnchorRecord, BlockInfo, Receipt, SignedTx
from ledger.errors import LedgerError
from ledger.outbox import AnchorBatch, AnchorLeaf, BatchState, as_utc, cut_batches

log = logging.getLogger("xacthuc.anchoring")

MAX_ATTEMPTS = 8


class AnchorChain(Protocol):
    """What the worker needs from the chain client (``ledger.chain.RegistryClient``)."""

    def sign_anchor(self, account: Any, root: bytes, count: int, nonce: int) -> SignedTx: ...
    def send_raw(self, raw: bytes) -> bytes: ...
    def get_receipt(self, tx_hash: bytes) -> Receipt | None: ...
    def transaction_known(self, tx_hash: bytes) -> bool: ...
    def anchor_record(self, root: bytes) -> AnchorRecord | None: ...
    def pending_nonce(self, address: str) -> int: ...
    def find_anchor_tx(self, root: bytes) -> bytes | None: ...
    def block(self, number: int) -> BlockInfo: ...
    @property
    def block_number(self) -> int: ...


@dataclass
class WorkerConfig:
    batch_max: int = 1024
    batch_interval: timedelta = timedelta(seconds=2)
    confirmations: int = 1
    finality_depth: int = 12


@dataclass
class StepReport:
    """What one pass of the worker did, for progress output and tests."""

    built: int = 0
    sent: int = 0
    confirmed: int = 0
    finalized: int = 0
    resent: int = 0
    reorged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.built or self.sent or self.confirmed or self.resent or self.reorged)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


class Anchorer:
    """Drives every agency account's batches through their states. One instance per worker process."""

    def __init__(
        self,
        engine: Engine,
        chain: AnchorChain,
        accounts: Mapping[str, Any],
        config: WorkerConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.accounts = accounts  # checksummed address -> signing account (eth_account LocalAccount)
        self.config = config
        self.clock = clock

    def step(self, *, force: bool = False) -> StepReport:
        """One pass: cut due batches, send built ones, confirm sent ones, watch confirmed ones for reorgs."""
        report = StepReport()
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            built = cut_batches(
                session, now, batch_max=self.config.batch_max, interval=self.config.batch_interval, force=force
            )
            report.built = len(built)
            try:
                head = self.chain.block_number
            except Exception as exc:  # the node is down: batches stay as they are, the next pass retries
                report.errors.append(f"chain unreachable: {type(exc).__name__}")
                log.warning("anchoring paused: chain unreachable (%s)", type(exc).__name__)
                return report
            for batch in self._batches(session, BatchState.BUILT):
                self._guard(report, batch, lambda b: self._send(session, b, report))
            for batch in self._batches(session, BatchState.SENT):
                self._guard(report, batch, lambda b: self._confirm(session, b, head, report))
            for batch in self._batches(session, BatchState.CONFIRMED):
                self._guard(report, batch, lambda b: self._watch(session, b, head, report))
        return report

    def _batches(self, session: Session, state: BatchState) -> list[AnchorBatch]:
        stmt = select(AnchorBatch).where(AnchorBatch.state == state).order_by(col(AnchorBatch.id))
        return [b for b in session.exec(stmt).all() if b.account in self.accounts]

    def _guard(self, report: StepReport, batch: AnchorBatch, fn: Callable[[AnchorBatch], None]) -> None:
        # A node that is down or a transient RPC fault stops this batch's step, not the worker: the state in the
        # database is unchanged and the next pass tries again.
        try:
            fn(batch)
        except Exception as exc:
            msg = f"batch {batch.id}: {type(exc).__name__}: {exc}"[:500]
            report.errors.append(msg)
            log.warning("anchoring step failed: %s", msg)

    # -- built -> sent -------------------------------------------------------------------------------------------
    def _send(self, session: Session, batch: AnchorBatch, report: StepReport) -> None:
        if self._adopt_existing_anchor(session, batch, report):
            return
        nonce = self._next_nonce(session, batch.account)
        signed = self.chain.sign_anchor(self.accounts[batch.account], batch.root, batch.count, nonce)
        batch.nonce = signed.nonce
        batch.tx_hash = _hex(signed.tx_hash)
        batch.raw_tx = signed.raw
        batch.sent_at = as_utc(self.clock())
        batch.state = BatchState.SENT
        batch.attempts += 1
        session.add(batch)
        session.commit()  # persisted before the broadcast: a crash now means "broadcast again", never "lost"
        self.chain.send_raw(signed.raw)
        report.sent += 1

    def _next_nonce(self, session: Session, account: str) -> int:
        chain_nonce = self.chain.pending_nonce(account)
        in_flight = session.exec(
            select(AnchorBatch.nonce).where(
                AnchorBatch.account == account,
                AnchorBatch.state == BatchState.SENT,
                col(AnchorBatch.nonce).is_not(None),
            )
        ).all()
        ours = max((n for n in in_flight if n is not None), default=-1) + 1
        return max(chain_nonce, ours)

    def _adopt_existing_anchor(self, session: Session, batch: AnchorBatch, report: StepReport) -> bool:
        """If the root is already on chain from our account, adopt that anchor instead of sending another."""
        record = self.chain.anchor_record(batch.root)
        if record is None:
            return False
        if record.agency.lower() != batch.account.lower():
            batch.state = BatchState.FAILED
            batch.last_error = f"root already anchored by another account {record.agency}"
            session.add(batch)
            session.commit()
            raise LedgerError(batch.last_error)
        tx = self.chain.find_anchor_tx(batch.root)
        if tx is None:
            return False
        receipt = self.chain.get_receipt(tx)
        if receipt is None:
            return False
        batch.tx_hash = _hex(tx)
        self._mark_confirmed(session, batch, receipt)
        report.confirmed += 1
        return True

    # -- sent -> confirmed ---------------------------------------------------------------------------------------
    def _confirm(self, session: Session, batch: AnchorBatch, head: int, report: StepReport) -> None:
        assert batch.tx_hash is not None and batch.raw_tx is not None and batch.nonce is not None
        tx_hash = _unhex(batch.tx_hash)
        receipt = self.chain.get_receipt(tx_hash)
        if receipt is not None and receipt.status == 1:
            if receipt.block_number + self.config.confirmations - 1 <= head:
                self._mark_confirmed(session, batch, receipt)
                report.confirmed += 1
            return
        if receipt is not None:  # mined but reverted (status 0)
            if self._adopt_existing_anchor(session, batch, report):
                return
            self._back_to_built(session, batch, "transaction reverted")
            report.resent += 1
            return
        if self.chain.transaction_known(tx_hash):
            return  # still in the mempool
        # The node does not know the transaction: dropped, or lost with a node restart or a re-organisation.
        if self._adopt_existing_anchor(session, batch, report):
            return
        if self.chain.pending_nonce(batch.account) > batch.nonce:
            self._back_to_built(session, batch, "nonce taken by another transaction")
        else:
            self.chain.send_raw(batch.raw_tx)
        report.resent += 1

    def _back_to_built(self, session: Session, batch: AnchorBatch, why: str) -> None:
        log.info("batch %s: %s; will send again", batch.id, why)
        batch.state = BatchState.BUILT if batch.attempts < MAX_ATTEMPTS else BatchState.FAILED
        batch.last_error = why
        batch.nonce = batch.tx_hash = batch.raw_tx = None
        session.add(batch)
        session.commit()

    def _mark_confirmed(self, session: Session, batch: AnchorBatch, receipt: Receipt) -> None:
        block_hash, block_time = self.chain.block(receipt.block_number)
        batch.block_number = receipt.block_number
        batch.block_hash = _hex(block_hash)
        batch.anchored_at = as_utc(block_time)
        batch.state = BatchState.CONFIRMED
        batch.last_error = None
        session.add(batch)
        session.commit()

    # -- confirmed -> final, or back on a re-organisation ----------------------------------------------------------
    def _watch(self, session: Session, batch: AnchorBatch, head: int, report: StepReport) -> None:
        assert batch.tx_hash is not None and batch.block_number is not None
        receipt = self.chain.get_receipt(_unhex(batch.tx_hash))
        if receipt is None or receipt.status != 1 or _hex(receipt.block_hash) != batch.block_hash:
            log.warning("batch %s: anchor transaction re-organised out of block %s", batch.id, batch.block_number)
            batch.state = BatchState.SENT
            batch.block_number = batch.block_hash = batch.anchored_at = None
            session.add(batch)
            session.commit()
            report.reorged += 1
            return
        if head - batch.block_number >= self.config.finality_depth:
            batch.state = BatchState.FINAL
            session.add(batch)
            session.commit()
            report.finalized += 1


def pending_count(session: Session) -> int:
    """Leaves not yet in a confirmed batch."""
    unbatched = session.exec(select(func.count()).where(col(AnchorLeaf.batch_id).is_(None))).one()
    in_open_batches = session.exec(
        select(func.coalesce(func.sum(AnchorBatch.count), 0)).where(
            col(AnchorBatch.state).in_([BatchState.BUILT, BatchState.SENT])
        )
    ).one()
    return int(unbatched) + int(in_open_batches)
