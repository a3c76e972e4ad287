"""The anchoring worker: moves batches from the outbox to the chain, one persisted step at a time.

States (``ledger.outbox.BatchState``): built -> sent -> confirmed -> final, each committed before the next step
acts, so a crash anywhere resumes from the database:

* built: sign the ``anchor`` transaction with the next nonce, persist nonce, hash and raw bytes (state sent), then
  broadcast. A crash after the commit and before the broadcast leaves a sent batch whose transaction the node does
  not know: it is broadcast again (same bytes, same hash: it can be mined at most once).
* sent: a receipt with status 1 and enough confirmations makes it confirmed (block number, hash, time). Status 0,
  or a transaction the node has forgotten whose nonce was taken by something else, sends it again with a fresh
  nonce. The registry refuses an account's second anchor of a root, so no root is ever anchored twice; a root found
  already anchored by our own account counts as done. Anchors are keyed by account and root: another account's
  anchor of the same root (a front-runner's) is a record of its own and changes nothing here.
* confirmed: re-checked until it is ``finality_depth`` blocks deep. A re-organisation that drops the transaction
  (no receipt, or a receipt in another block) is detected there and the batch goes back to sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from ledger.chain import AnchorRecord, BlockInfo, Fees, Receipt, SignedTx
from ledger.outbox import AnchorBatch, AnchorLeaf, BatchState, cut_batches

log = logging.getLogger("xacthuc.anchoring")

MAX_ATTEMPTS = 8


class AnchorChain(Protocol):
    """What the worker needs from the chain client (``ledger.chain.RegistryClient``)."""

    def sign_anchor(self, account: Any, root: bytes, count: int, nonce: int, fees: Fees | None = None) -> SignedTx: ...
    def suggest_fees(self) -> Fees: ...
    def send_raw(self, raw: bytes) -> bytes: ...
    def send_raws(self, raws: Sequence[bytes]) -> None: ...
    def get_receipt(self, tx_hash: bytes) -> Receipt | None: ...
    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]: ...
    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockInfo]: ...
    def transaction_known(self, tx_hash: bytes) -> bool: ...
    def anchor_record(self, agency: str, root: bytes) -> AnchorRecord | None: ...
    def pending_nonce(self, address: str) -> int: ...
    def find_anchor_tx(self, agency: str, root: bytes) -> bytes | None: ...
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
        """One pass: cut due batches, send built ones, confirm sent ones, watch confirmed ones for reorgs.

        Each phase works on all of its batches at once (one nonce look-up per account, one JSON-RPC batch for the
        broadcasts, the receipts and the blocks), so the chain costs a few round trips per pass, not per batch.
        """
        report = StepReport()
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            built = cut_batches(
                session, now, batch_max=self.config.batch_max, interval=self.config.batch_interval, force=force
            )
            report.built = len(built)
            for phase, state in (
                (self._send_all, BatchState.BUILT),
                (self._confirm_all, BatchState.SENT),
                (self._watch_all, BatchState.CONFIRMED),
            ):
                batches = self._batches(session, state)
                if not batches:
                    continue
                try:
                    phase(session, batches, report)
                except Exception as exc:  # the node is down or answered badly: the database is unchanged
                    session.rollback()
                    report.errors.append(f"{state} pass: {type(exc).__name__}: {exc}"[:500])
                    log.warning("anchoring %s pass failed: %s", state, type(exc).__name__)
                    break
        return report

    def _batches(self, session: Session, state: BatchState) -> list[AnchorBatch]:
        stmt = select(AnchorBatch).where(AnchorBatch.state == state).order_by(col(AnchorBatch.id))
        return [b for b in session.exec(stmt).all() if b.account in self.accounts]

    def _guard(self, report: StepReport, batch: AnchorBatch, fn: Callable[[AnchorBatch], None]) -> None:
        # One batch's odd case (a revert, a foreign anchor) stops that batch, not the pass.
        try:
            fn(batch)
        except Exception as exc:
            session = object_session(batch)
            if session is not None:
                session.rollback()
            msg = f"batch {batch.id}: {type(exc).__name__}: {exc}"[:500]
            report.errors.append(msg)
            log.warning("anchoring step failed: %s", msg)

    # -- built -> sent -------------------------------------------------------------------------------------------
    def _send_all(self, session: Session, batches: list[AnchorBatch], report: StepReport) -> None:
        fees = self.chain.suggest_fees()
        nonces: dict[str, int] = {}
        raws: list[bytes] = []
        for batch in batches:
            # A batch that was sent before may have made it on chain after all: adopt, never anchor twice.
            if batch.attempts and self._adopt(session, batch, report):
                continue
            if batch.account not in nonces:
                nonces[batch.account] = self._next_nonce(session, batch.account)
            nonce = nonces[batch.account]
            signed = self.chain.sign_anchor(self.accounts[batch.account], batch.root, batch.count, nonce, fees)
            nonces[batch.account] = nonce + 1
            batch.nonce = signed.nonce
            batch.tx_hash = _hex(signed.tx_hash)
            batch.raw_tx = signed.raw
            batch.sent_at = self.clock()
            batch.state = BatchState.SENT
            batch.attempts += 1
            session.add(batch)
            raws.append(signed.raw)
        session.commit()  # persisted before the broadcast: a crash now means "broadcast again", never "lost"
        self.chain.send_raws(raws)
        report.sent += len(raws)

    def _next_nonce(self, session: Session, account: str) -> int:
        chain_nonce = self.chain.pending_nonce(account)
        in_flight = session.exec(
            select(func.max(AnchorBatch.nonce)).where(
                AnchorBatch.account == account, AnchorBatch.state == BatchState.SENT
            )
        ).one()
        return max(chain_nonce, -1 if in_flight is None else in_flight + 1)

    def _adopt(self, session: Session, batch: AnchorBatch, report: StepReport) -> bool:
        """If our account already anchored the root: adopt that anchor (another account's anchor is not ours)."""
        if self.chain.anchor_record(batch.account, batch.root) is None:
            return False
        tx = self.chain.find_anchor_tx(batch.account, batch.root)
        receipt = None if tx is None else self.chain.get_receipt(tx)
        if tx is None or receipt is None:
            return False
        batch.tx_hash = _hex(tx)
        self._mark_confirmed(session, batch, receipt, self.chain.block(receipt.block_number))
        session.commit()
        report.confirmed += 1
        return True

    # -- sent -> confirmed ---------------------------------------------------------------------------------------
    def _confirm_all(self, session: Session, batches: list[AnchorBatch], report: StepReport) -> None:
        receipts = self.chain.get_receipts([_unhex(b.tx_hash or "") for b in batches])
        head = self.chain.block_number
        deep = self.config.confirmations - 1
        ready = [(b, r) for b, r in zip(batches, receipts, strict=True) if r is not None and r.status == 1]
        ready = [(b, r) for b, r in ready if r.block_number + deep <= head]
        if ready:
            blocks = self.chain.blocks([r.block_number for _, r in ready])
            for batch, receipt in ready:
                self._mark_confirmed(session, batch, receipt, blocks[receipt.block_number])
            session.commit()
            report.confirmed += len(ready)
        for batch, pending in zip(batches, receipts, strict=True):
            if pending is None or pending.status != 1:
                self._guard(report, batch, partial(self._recover, session, receipt=pending, report=report))

    def _recover(self, session: Session, batch: AnchorBatch, *, receipt: Receipt | None, report: StepReport) -> None:
        """A sent batch with no successful receipt: reverted, still pending, or forgotten by the node."""
        assert batch.tx_hash is not None and batch.raw_tx is not None and batch.nonce is not None
        if receipt is not None:  # mined but reverted (status 0)
            if not self._adopt(session, batch, report):
                self._back_to_built(session, batch, "transaction reverted")
                report.resent += 1
            return
        if self.chain.transaction_known(_unhex(batch.tx_hash)):
            return  # still in the mempool
        # The node does not know the transaction: dropped, or lost with a node restart or a re-organisation.
        if self._adopt(session, batch, report):
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

    def _mark_confirmed(self, session: Session, batch: AnchorBatch, receipt: Receipt, block: BlockInfo) -> None:
        batch.block_number = receipt.block_number
        batch.block_hash = _hex(receipt.block_hash)
        batch.anchored_at = block.timestamp
        batch.state = BatchState.CONFIRMED
        batch.last_error = None
        session.add(batch)

    # -- confirmed -> final, or back on a re-organisation ----------------------------------------------------------
    def _watch_all(self, session: Session, batches: list[AnchorBatch], report: StepReport) -> None:
        head = self.chain.block_number
        # Block hashes chain: if the newest confirmed anchor's block is still canonical, so are all older ones,
        # and one look-up covers every batch. Otherwise check each batch's receipt.
        newest = max(batches, key=lambda b: b.block_number or 0)
        assert newest.block_number is not None
        if newest.block_number > head:  # the chain is now shorter than our newest anchor: blocks were lost
            intact = False
        else:
            canonical = self.chain.blocks([newest.block_number])[newest.block_number]
            intact = _hex(canonical.hash) == newest.block_hash
        if not intact:
            receipts = self.chain.get_receipts([_unhex(b.tx_hash or "") for b in batches])
            for batch, receipt in zip(batches, receipts, strict=True):
                if receipt is None or receipt.status != 1 or _hex(receipt.block_hash) != batch.block_hash:
                    log.warning("batch %s: anchor re-organised out of block %s", batch.id, batch.block_number)
                    batch.state = BatchState.SENT
                    batch.block_number = batch.block_hash = batch.anchored_at = None
                    session.add(batch)
                    report.reorged += 1
        for batch in batches:
            if (
                batch.state == BatchState.CONFIRMED
                and head - (batch.block_number or head) >= self.config.finality_depth
            ):
                batch.state = BatchState.FINAL
                session.add(batch)
                report.finalized += 1
        session.commit()


def pending_count(session: Session) -> int:
    """Leaves not yet in a confirmed batch."""
    unbatched = session.exec(select(func.count()).where(col(AnchorLeaf.batch_id).is_(None))).one()
    in_open_batches = session.exec(
        select(func.coalesce(func.sum(AnchorBatch.count), 0)).where(
            col(AnchorBatch.state).in_([BatchState.BUILT, BatchState.SENT])
        )
    ).one()
    return int(unbatched) + int(in_open_batches)
