"""The anchoring worker: moves the outbox to the chain, one persisted step at a time.

The outbox holds two kinds of transaction (``ledger.chain._outbox_tx``): a batch's ``anchor`` and a document's
``revoke``. Both go through the same states (``ledger.chain.outbox.BatchState``), each committed before the next step
acts, so a crash anywhere resumes from the database:

* built: sign the transaction with the account's next nonce, persist nonce, hash and raw bytes (state sent), then
  broadcast. A crash after the commit and before the broadcast leaves a sent row whose transaction the node does
  not know: it is broadcast again (same bytes, same hash: it can be mined at most once). A revocation is built
  when the agency decides, and signed only once its document's batch is confirmed.
* sent: a receipt with status 1 and enough confirmations makes it confirmed (block number, hash, time). Status 0,
  or a transaction the node has forgotten whose nonce was taken by something else, sends it again with a fresh
  nonce. The registry refuses an account's second anchor of a root and a second revocation of a document, so
  nothing is done twice: a row found already done on chain by our account counts as done (adopted). Anchors are
  keyed by account and root: another account's anchor of the same root (a front-runner's) is a record of its own
  and changes nothing here.
* confirmed: re-checked, each by its receipt, until it is ``finality_depth`` blocks deep. A re-organisation that
  drops the transaction (no receipt, or a receipt in another block) is detected there and the row goes back to sent.
* final: the newest final row's block is looked at every ``FINAL_WATCH_INTERVAL`` and whenever a row becomes final;
  a chain that lost it (a node back from an older state) sends the lost final rows back to sent.

Who sends: with a ``relayer`` (the city's one funded account) every agency's anchor and revocation is sent by the
relayer as ``anchorFor``/``revokeFor``, authorised by the agency's EIP-712 signature, and takes the relayer's nonce;
without one, each agency sends its own ``anchor``/``revoke``. A relayer that cannot pay (its source raises
``AnchorAccountUnfunded``) stops the signing of new transactions: built rows wait, each marked with the error,
and go out at the first pass after it is funded.

The transactions of one sending account share its nonces, so exactly one worker drives an account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from ledger.chain._outbox_tx import KINDS, TxChain, kind_of
from ledger.chain.outbox import (
    OPEN_STATES,
    AnchorBatch,
    AnchorLeaf,
    BatchState,
    OutboxTx,
    RevocationTx,
    as_utc,
    cut_batches,
)
from ledger.chain.types import BlockInfo, Fees, TxReceipt
from ledger.errors import AnchorAccountUnfunded

__all__ = [
    "MAX_ATTEMPTS",
    "AnchorChain",
    "Anchorer",
    "StepReport",
    "WorkerConfig",
    "oldest_pending_leaf",
    "on_confirmed",
    "pending_count",
    "pending_revocations",
]

log = logging.getLogger("xacthuc.anchoring")

MAX_ATTEMPTS = 8
#: How often the worker looks whether the chain still holds the newest final transaction (one receipt look-up).
FINAL_WATCH_INTERVAL = timedelta(seconds=2)
#: Final rows checked per JSON-RPC batch while looking for what a chain lost.
FINAL_WALK_CHUNK = 256

_ON_CONFIRMED: list[Callable[[str, int], None]] = []


def on_confirmed(observer: Callable[[str, int], None]) -> None:
    """Call ``observer(kind, gas_used)`` (kind ``batch`` or ``revocation``) whenever a worker of this process sees
    one of its transactions confirmed (the metrics count the gas)."""
    _ON_CONFIRMED.append(observer)


class AnchorChain(TxChain, Protocol):
    """What the worker needs from the chain client (``ledger.chain.client.RegistryClient``)."""

    def suggest_fees(self) -> Fees: ...
    def send_raw(self, raw: bytes) -> bytes: ...
    def send_raws(self, raws: Sequence[bytes]) -> None: ...
    def get_receipt(self, tx_hash: bytes) -> TxReceipt | None: ...
    def get_receipts(self, tx_hashes: Sequence[bytes]) -> list[TxReceipt | None]: ...
    def blocks(self, numbers: Sequence[int]) -> dict[int, BlockInfo]: ...
    def transaction_known(self, tx_hash: bytes) -> bool: ...
    def pending_nonce(self, address: str) -> int: ...
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
    """What one pass of the worker did (batches and revocations together), for progress output and tests."""

    built: int = 0
    sent: int = 0
    confirmed: int = 0
    finalized: int = 0
    resent: int = 0
    reorged: int = 0
    errors: list[str] = field(default_factory=list)
    #: The sending account cannot pay: nothing was signed this pass (built rows carry the error).
    unfunded: AnchorAccountUnfunded | None = None

    @property
    def busy(self) -> bool:
        return bool(self.built or self.sent or self.confirmed or self.resent or self.reorged)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


def _name(row: OutboxTx) -> str:
    return f"{kind_of(row).label} {getattr(row, 'id', '?')}"


class Anchorer:
    """Drives every agency account's batches and revocations through their states. One instance per worker."""

    def __init__(
        self,
        engine: Engine,
        chain: AnchorChain,
        accounts: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        config: WorkerConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        relayer: Any | Callable[[], Any] | None = None,
    ) -> None:
        self.engine = engine
        self.chain = chain
        # Agency address (checksummed) -> its account (eth_account LocalAccount). A callable is asked again at every
        # pass, so accounts added while the worker runs (an agency created) are picked up without a restart.
        self._account_source = accounts
        self.accounts: Mapping[str, Any] = accounts if isinstance(accounts, Mapping) else {}
        # The account that sends for every agency, or a callable asked at every pass (it raises
        # AnchorAccountUnfunded while the account cannot pay); None: each agency sends its own transactions.
        self._relayer_source = relayer
        self.relayer: Any | None = None if callable(relayer) else relayer
        self.config = config
        self.clock = clock
        self._final_watched_at: datetime | None = None

    def step(self, *, force: bool = False) -> StepReport:
        """One pass: cut due batches, send what is built, confirm what is sent, watch what is confirmed.

        Each phase works on all of its rows at once (one nonce look-up per account, one JSON-RPC batch for the
        broadcasts, the receipts and the blocks), so the chain costs a few round trips per pass, not per row.
        """
        report = StepReport()
        now = self.clock()
        if not isinstance(self._account_source, Mapping):
            self.accounts = self._account_source()
        if callable(self._relayer_source):
            try:
                self.relayer = self._relayer_source()
            except AnchorAccountUnfunded as exc:
                report.unfunded = exc
        with Session(self.engine, expire_on_commit=False) as session:
            built = cut_batches(
                session, now, batch_max=self.config.batch_max, interval=self.config.batch_interval, force=force
            )
            report.built = len(built)
            for phase, state in (
                (self._watch_final, BatchState.FINAL),
                (self._send_all, BatchState.BUILT),
                (self._confirm_all, BatchState.SENT),
                (self._watch_all, BatchState.CONFIRMED),
            ):
                rows = self._final_due(session, now) if state == BatchState.FINAL else self._rows(session, state)
                if not rows:
                    continue
                if state == BatchState.BUILT and report.unfunded is not None:
                    self._mark_waiting(session, rows, report.unfunded)
                    continue
                try:
                    phase(session, rows, report)
                except Exception as exc:  # the node is down or answered badly: the database is unchanged
                    session.rollback()
                    report.errors.append(f"{state} pass: {type(exc).__name__}: {exc}"[:500])
                    log.warning("anchoring %s pass failed: %s", state, type(exc).__name__)
                    break
        return report

    def _rows(self, session: Session, state: BatchState) -> list[OutboxTx]:
        return [row for kind in KINDS for row in kind.rows(session, state) if row.account in self.accounts]

    def _guard(self, report: StepReport, row: OutboxTx, fn: Callable[[OutboxTx], None]) -> None:
        # One row's odd case (a revert, a node refusal) stops that row, not the pass.
        try:
            fn(row)
        except Exception as exc:
            session = object_session(row)
            if session is not None:
                session.rollback()
            msg = f"{_name(row)}: {type(exc).__name__}: {exc}"[:500]
            report.errors.append(msg)
            log.warning("anchoring step failed: %s", msg)

    # -- built -> sent -------------------------------------------------------------------------------------------
    def _mark_waiting(self, session: Session, rows: list[OutboxTx], unfunded: AnchorAccountUnfunded) -> None:
        """Built rows that cannot be sent carry the reason (written once, not at every pass)."""
        why = f"{unfunded.code}: {unfunded.message}"[:500]
        changed = [row for row in rows if row.last_error != why]
        for row in changed:
            row.last_error = why
            session.add(row)
        if changed:
            session.commit()

    def _send_all(self, session: Session, rows: list[OutboxTx], report: StepReport) -> None:
        fees = self.chain.suggest_fees()
        nonces: dict[str, int] = {}
        raws: list[bytes] = []
        for row in rows:
            # A row that was sent before may have made it on chain after all: adopt, never do it twice.
            if row.attempts and self._adopt(session, row, report):
                continue
            agency = self.accounts[row.account]
            sender = self.relayer.address if self.relayer is not None else row.account
            if sender not in nonces:
                nonces[sender] = self._next_nonce(session, sender)
            nonce = nonces[sender]
            signed = kind_of(row).sign(session, self.chain, agency, row, nonce, fees, self.relayer)
            nonces[sender] = nonce + 1
            row.sender = sender
            row.nonce = signed.nonce
            row.tx_hash = _hex(signed.tx_hash)
            row.raw_tx = signed.raw
            row.sent_at = self.clock()
            row.state = BatchState.SENT
            row.attempts += 1
            session.add(row)
            raws.append(signed.raw)
        session.commit()  # persisted before the broadcast: a crash now means "broadcast again", never "lost"
        self.chain.send_raws(raws)
        report.sent += len(raws)

    def _next_nonce(self, session: Session, sender: str) -> int:
        chain_nonce = self.chain.pending_nonce(sender)
        in_flight = -1
        for model in (AnchorBatch, RevocationTx):
            sent_by = func.coalesce(model.sender, model.account)
            highest = session.exec(
                select(func.max(model.nonce)).where(sent_by == sender, model.state == BatchState.SENT)
            ).one()
            if highest is not None:
                in_flight = max(in_flight, highest)
        return max(chain_nonce, in_flight + 1)

    def _adopt(self, session: Session, row: OutboxTx, report: StepReport) -> bool:
        """If our account already did on chain what ``row`` asks: adopt that transaction (confirmed by its receipt)."""
        tx = kind_of(row).tx_on_chain(session, self.chain, row)
        receipt = None if tx is None else self.chain.get_receipt(tx)
        if tx is None or receipt is None:
            return False
        row.tx_hash = _hex(tx)
        self._mark_confirmed(session, row, receipt, self.chain.block(receipt.block_number))
        session.commit()
        report.confirmed += 1
        return True

    # -- sent -> confirmed ---------------------------------------------------------------------------------------
    def _confirm_all(self, session: Session, rows: list[OutboxTx], report: StepReport) -> None:
        receipts = self.chain.get_receipts([_unhex(r.tx_hash or "") for r in rows])
        head = self.chain.block_number
        deep = self.config.confirmations - 1
        ready = [(row, r) for row, r in zip(rows, receipts, strict=True) if r is not None and r.status == 1]
        ready = [(row, r) for row, r in ready if r.block_number + deep <= head]
        if ready:
            blocks = self.chain.blocks([r.block_number for _, r in ready])
            for row, receipt in ready:
                self._mark_confirmed(session, row, receipt, blocks[receipt.block_number])
            session.commit()
            report.confirmed += len(ready)
        for row, pending in zip(rows, receipts, strict=True):
            if pending is None or pending.status != 1:
                self._guard(report, row, partial(self._recover, session, receipt=pending, report=report))

    def _recover(self, session: Session, row: OutboxTx, *, receipt: TxReceipt | None, report: StepReport) -> None:
        """A sent row with no successful receipt: reverted, still pending, or forgotten by the node."""
        assert row.tx_hash is not None and row.raw_tx is not None and row.nonce is not None
        if receipt is not None:  # mined but reverted (status 0)
            if not self._adopt(session, row, report):
                self._back_to_built(session, row, "transaction reverted")
                report.resent += 1
            return
        if self.chain.transaction_known(_unhex(row.tx_hash)):
            return  # still in the mempool
        # The node does not know the transaction: dropped, or lost with a node restart or a re-organisation.
        if self._adopt(session, row, report):
            return
        if self.chain.pending_nonce(row.sent_by) > row.nonce:
            self._back_to_built(session, row, "nonce taken by another transaction")
        else:
            self.chain.send_raw(row.raw_tx)
        report.resent += 1

    def _back_to_built(self, session: Session, row: OutboxTx, why: str) -> None:
        log.info("%s: %s; will send again", _name(row), why)
        row.state = BatchState.BUILT if row.attempts < MAX_ATTEMPTS else BatchState.FAILED
        row.last_error = why
        row.clear_sent()
        session.add(row)
        session.commit()

    def _mark_confirmed(self, session: Session, row: OutboxTx, receipt: TxReceipt, block: BlockInfo) -> None:
        row.set_mined(receipt.block_number, _hex(receipt.block_hash), block.timestamp)
        row.state = BatchState.CONFIRMED
        row.last_error = None
        session.add(row)
        for observer in _ON_CONFIRMED:
            with suppress(Exception):  # counting never changes what the worker does
                observer(kind_of(row).label, receipt.gas_used)

    # -- final, unless the chain lost the blocks we saw ------------------------------------------------------------
    def _final_due(self, session: Session, now: datetime) -> list[OutboxTx]:
        """The newest final row (at most every ``FINAL_WATCH_INTERVAL``): the one look that covers them all."""
        if self._final_watched_at is not None and now - self._final_watched_at < FINAL_WATCH_INTERVAL:
            return []
        self._final_watched_at = now
        newest = self._final_rows(session, limit=1)
        return newest[:1]

    def _final_rows(self, session: Session, limit: int | None = None, upto: int | None = None) -> list[OutboxTx]:
        """Final rows of our accounts, newest block first (``upto``: in that block or older ones)."""
        rows: list[OutboxTx] = []
        for model in (AnchorBatch, RevocationTx):
            stmt = select(model).where(model.state == BatchState.FINAL, col(model.block_number).is_not(None))
            if upto is not None:
                stmt = stmt.where(col(model.block_number) <= upto)
            stmt = stmt.order_by(col(model.block_number).desc(), col(model.id).desc())
            rows += [r for r in session.exec(stmt.limit(limit)).all() if r.account in self.accounts]
        rows.sort(key=lambda r: r.block_number or 0, reverse=True)
        return rows[:limit]

    def _watch_final(self, session: Session, rows: list[OutboxTx], report: StepReport) -> None:
        """Final rows are not watched one by one: all of them lie on one chain whose tip is the newest one's block
        (a row becomes final only in a pass that found that block still the chain's: ``_watch_all``), so if that
        block is still the chain's, so are all older ones (block hashes chain). If not, the chain lost blocks we saw
        final: the node came back from an older persisted state, or re-organised deeper than ``finality_depth``."""
        if not self._still_mined(rows[:1])[0]:
            self._walk_final(session, rows[0], report)
        session.commit()

    def _walk_final(self, session: Session, newest: OutboxTx, report: StepReport) -> None:
        """``newest`` (the newest final row) is gone: each final row whose transaction is gone goes back to sent (sent
        again or adopted as usual), newest first, until one is still where it was: the ones below it are on the
        chain that holds it."""
        log.warning("the chain no longer holds block %s, final for us: looking for what it lost", newest.block_number)
        upto: int | None = None
        while True:  # each turn moves every row of its chunk out of final (flushed before the next query), or ends
            chunk = self._final_rows(session, limit=FINAL_WALK_CHUNK, upto=upto)
            if not chunk:
                break
            intact = self._still_mined(chunk)
            for row, kept in zip(chunk, intact, strict=True):
                if not kept:
                    log.warning("%s: transaction lost from final block %s", _name(row), row.block_number)
                    self._unmined(session, row)
                    report.reorged += 1
            if any(intact):
                break
            upto = chunk[-1].block_number

    def _unmined(self, session: Session, row: OutboxTx) -> None:
        row.state = BatchState.SENT
        row.set_mined(None, None, None)
        session.add(row)

    def _still_mined(self, rows: Sequence[OutboxTx]) -> list[bool]:
        """Whether each row's transaction is still mined in the block we recorded (one JSON-RPC batch)."""
        receipts = self.chain.get_receipts([_unhex(r.tx_hash or "") for r in rows])
        return [
            receipt is not None and receipt.status == 1 and _hex(receipt.block_hash) == row.block_hash
            for row, receipt in zip(rows, receipts, strict=True)
        ]

    # -- confirmed -> final, or back on a re-organisation ----------------------------------------------------------
    def _watch_all(self, session: Session, rows: list[OutboxTx], report: StepReport) -> None:
        """Each confirmed row is checked by its own receipt: after a node came back from an older state, rows
        confirmed before (on the lost blocks) and rows confirmed since (on the new ones) are on different chains,
        so no one row's block can vouch for the others. The newest final row is checked in the same look, and no
        row becomes final unless it is intact: otherwise a row final on the new chain would be taken as the tip
        that vouches for final rows lost with the old one (``_watch_final``)."""
        head = self.chain.block_number
        newest_final = self._final_rows(session, limit=1)
        intact = self._still_mined([*rows, *newest_final])
        for row, kept in zip(rows, intact[: len(rows)], strict=True):
            if not kept:
                log.warning("%s: transaction re-organised out of block %s", _name(row), row.block_number)
                self._unmined(session, row)
                report.reorged += 1
        for final, kept in zip(newest_final, intact[len(rows) :], strict=True):
            if not kept:
                self._walk_final(session, final, report)
                session.flush()
        for row in rows:
            if row.state == BatchState.CONFIRMED and head - (row.block_number or head) >= self.config.finality_depth:
                row.state = BatchState.FINAL
                session.add(row)
                report.finalized += 1
        session.commit()


def pending_count(session: Session) -> int:
    """Leaves not yet in a confirmed batch."""
    unbatched = session.exec(select(func.count()).where(col(AnchorLeaf.batch_id).is_(None))).one()
    in_open_batches = session.exec(
        select(func.coalesce(func.sum(AnchorBatch.count), 0)).where(col(AnchorBatch.state).in_(OPEN_STATES))
    ).one()
    return int(unbatched) + int(in_open_batches)


def pending_revocations(session: Session) -> int:
    """Revocations not yet confirmed on chain (failed ones excluded: they wait for an operator)."""
    return int(session.exec(select(func.count()).where(col(RevocationTx.state).in_(OPEN_STATES))).one())


def oldest_pending_leaf(session: Session) -> datetime | None:
    """When the oldest leaf not yet in a confirmed batch was queued (None: nothing waits).

    Two queries, each on its own index (migration 0019): the waiting leaves, and the leaves of the open batches. One
    query with ``OR`` between them read the whole table on PostgreSQL, every leaf ever queued, at each ``/metrics``.
    """
    waiting = session.exec(select(func.min(AnchorLeaf.created_at)).where(col(AnchorLeaf.batch_id).is_(None))).one()
    in_open_batch = session.exec(
        select(func.min(AnchorLeaf.created_at))
        .join(AnchorBatch, col(AnchorBatch.id) == col(AnchorLeaf.batch_id))
        .where(col(AnchorLeaf.batch_id).is_not(None), col(AnchorBatch.state).in_(OPEN_STATES))
    ).one()
    times = [as_utc(t) for t in (waiting, in_open_batch) if t is not None]
    return min(times, default=None)
