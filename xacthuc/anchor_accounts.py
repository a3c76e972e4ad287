"""The anchoring worker's accounts: every agency's (it signs its EIP-712 authorisations and holds no money) and the
city's relayer (it sends every agency's transactions and pays their gas), kept current while the process runs.

``Anchorer`` asks for both at every pass. The agencies are read again from the keystore when its ``generation``
moves, so an agency created by ``xacthuc agency create`` in another process anchors without a restart. The relayer's
balance is looked at every ``recheck`` (every ``unfunded_recheck`` while it cannot pay): while it holds less than
one relayed anchor may cost, :meth:`AnchorAccounts.relayer` raises ``AnchorAccountUnfunded`` (the worker then signs
nothing and its batches wait, marked with the error), the log says so once, ``/metrics`` shows the balance and
``/readyz`` answers ``degraded``. Once it is funded the next pass sends what waits. On our own development node the
relayer is funded at once, and again whenever it runs low.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from keys.bootstrap import City
from ledger.errors import AnchorAccountUnfunded

__all__ = ["RECHECK", "UNFUNDED_RECHECK", "AnchorAccounts"]

log = logging.getLogger("xacthuc.anchoring")

RECHECK = timedelta(seconds=30)
UNFUNDED_RECHECK = timedelta(seconds=2)


class AnchorAccounts:
    """``() -> {checksummed address: account}`` of every agency, and :meth:`relayer`, the account that sends."""

    def __init__(
        self,
        city: City,
        *,
        balance: Callable[[str], int],
        min_balance: Callable[[], int],
        clock: Callable[[], datetime],
        fund: Callable[[list[str]], None] | None = None,
        recheck: timedelta = RECHECK,
        unfunded_recheck: timedelta = UNFUNDED_RECHECK,
    ) -> None:
        self.city = city
        self._balance = balance
        self._min_balance = min_balance
        self._fund = fund
        self._clock = clock
        self.recheck = recheck
        self.unfunded_recheck = unfunded_recheck
        self._mark: str | None = None
        self._agencies: dict[str, Any] = {}  # address -> unlocked account
        self._relayer: Any | None = None
        self._lock = threading.Lock()  # the worker thread and the HTTP probes both ask
        self._checked_at: datetime | None = None
        self._last_balance: int | None = None
        self._unfunded: AnchorAccountUnfunded | None = None

    # -- the agencies ----------------------------------------------------------------------------------------------

    def __call__(self) -> Mapping[str, Any]:
        try:
            self._reload()
        except Exception as exc:  # keep what we knew; the next pass asks again
            log.warning("anchoring accounts could not be refreshed: %s", type(exc).__name__)
        return dict(self._agencies)

    def _reload(self) -> None:
        mark = self.city.keystore.generation()  # read first: a change made meanwhile shows up next time
        if mark == self._mark:
            return
        known = set(self._agencies)
        added = 0
        for agency_id in self.city.agency_ids():
            try:
                account = self.city.eth_account(agency_id)
            except Exception as exc:  # an agency without an Ethereum account anchors nothing
                log.debug("agency %s has no Ethereum account: %s", agency_id, type(exc).__name__)
                continue
            if account.address not in known:
                self._agencies[account.address] = account
                added += 1
        if added and self._mark is not None:
            log.info("anchoring for %d more agency account(s) without a restart", added)
        self._mark = mark

    # -- the relayer -----------------------------------------------------------------------------------------------

    @property
    def relayer_address(self) -> str:
        return str(self._relayer_account().address)

    def relayer(self) -> Any:
        """The relayer account, when it can pay for an anchor; ``AnchorAccountUnfunded`` otherwise."""
        self.refresh()
        if self._unfunded is not None:
            raise self._unfunded
        return self._relayer_account()

    def problems(self) -> list[AnchorAccountUnfunded]:
        """What keeps documents from being anchored now (the relayer's funds), for ``/readyz``."""
        self.refresh()
        return [] if self._unfunded is None else [self._unfunded]

    def balances(self) -> dict[str, int]:
        """The sending accounts' last known balances in wei, for ``/metrics``."""
        self.refresh()
        if self._last_balance is None:
            return {}
        return {self.relayer_address: self._last_balance}

    def refresh(self, *, force: bool = False) -> None:
        """Look at the relayer's balance again if it is due (or ``force``); a node that does not answer keeps the
        last state."""
        with self._lock:
            now = self._clock()
            wait = self.unfunded_recheck if self._unfunded is not None else self.recheck
            if not force and self._checked_at is not None and timedelta(0) <= now - self._checked_at < wait:
                return
            try:
                self._check(now)
            except Exception as exc:
                log.warning("the relayer's balance could not be read: %s", type(exc).__name__)

    def _relayer_account(self) -> Any:
        if self._relayer is None:
            self._relayer = self.city.relayer_account
        return self._relayer

    def _check(self, now: datetime) -> None:
        address = str(self._relayer_account().address)
        needed = self._min_balance()
        balance = self._balance(address)
        if balance < needed and self._fund is not None:  # our own development node
            self._fund([address])
            balance = self._balance(address)
        self._checked_at = now
        self._last_balance = balance
        was = self._unfunded
        if balance < needed:
            self._unfunded = AnchorAccountUnfunded(address, balance, needed)
            if was is None:  # one line when it runs dry, not one per pass
                log.warning("%s: %s", self._unfunded.code, self._unfunded.message)
        else:
            self._unfunded = None
            if was is not None:
                log.info("the relayer %s is funded (%d wei): the waiting batches go out", address, balance)
