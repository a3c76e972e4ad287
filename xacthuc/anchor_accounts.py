"""The anchoring worker's signing accounts: every agency's Ethereum account, kept current while the process runs.

``Anchorer`` asks at every pass. The accounts are read again from the keystore when its ``generation`` moves, so an
agency created by ``xacthuc agency create`` in another process anchors without a restart. On our own development
node a new account is funded at once. Anywhere else an account holding less than one anchor may cost is left out:
its batches stay built (nothing is signed or sent for it), the log says so once, and its balance is looked at again
every ``recheck`` until it is funded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from keys.bootstrap import City

log = logging.getLogger("xacthuc.anchoring")

RECHECK = timedelta(seconds=30)


class AgencyAccounts:
    """``() -> {checksummed address: account}`` of the agencies that can pay for an anchor now."""

    def __init__(
        self,
        city: City,
        *,
        balance: Callable[[str], int],
        min_balance: Callable[[], int],
        clock: Callable[[], datetime],
        fund: Callable[[list[str]], None] | None = None,
        recheck: timedelta = RECHECK,
    ) -> None:
        self.city = city
        self._balance = balance
        self._min_balance = min_balance
        self._fund = fund
        self._clock = clock
        self.recheck = recheck
        self._mark: str | None = None
        self._accounts: dict[str, tuple[str, Any]] = {}  # address -> (agency id, unlocked account)
        self._funded: dict[str, bool] = {}
        self._checked_at: datetime | None = None

    def __call__(self) -> Mapping[str, Any]:
        try:
            self._reload()
            self._check_balances()
        except Exception as exc:  # the node is down, say: keep what we knew; the next pass asks again
            log.warning("anchoring accounts could not be refreshed: %s", type(exc).__name__)
        return {address: account for address, (_, account) in self._accounts.items() if self._funded.get(address)}

    def _reload(self) -> None:
        mark = self.city.keystore.generation()  # read first: a change made meanwhile shows up next time
        if mark == self._mark:
            return
        known = {agency for agency, _ in self._accounts.values()}
        new: list[str] = []
        for agency_id in self.city.agency_ids():
            if agency_id in known:
                continue
            try:
                account = self.city.eth_account(agency_id)
            except Exception as exc:  # an agency without an Ethereum account anchors nothing
                log.debug("agency %s has no Ethereum account: %s", agency_id, type(exc).__name__)
                continue
            self._accounts[account.address] = (agency_id, account)
            new.append(account.address)
        self._mark = mark
        if new:
            if self._fund is not None:  # our own development node
                self._fund(new)
            if self._checked_at is not None:
                log.info("anchoring from %d more agency account(s) without a restart", len(new))
            self._check(new)

    def _check_balances(self) -> None:
        now = self._clock()
        if self._checked_at is not None and timedelta(0) <= now - self._checked_at < self.recheck:
            return
        self._check(list(self._accounts))

    def _check(self, addresses: list[str]) -> None:
        self._checked_at = self._clock()
        if not addresses:
            return
        needed = self._min_balance()
        low = [a for a in addresses if self._balance(a) < needed]
        if low and self._fund is not None:
            self._fund(low)
            low = [a for a in low if self._balance(a) < needed]
        for address in addresses:
            funded, was = address not in low, self._funded.get(address)
            self._funded[address] = funded
            agency = self._accounts[address][0]
            if not funded and was is not False:
                log.warning(
                    "agency %s: its account %s holds less than one anchor may cost (%d wei): its documents wait, "
                    "unanchored, until the account is funded",
                    agency,
                    address,
                    needed,
                )
            elif funded and was is False:
                log.info("agency %s: account %s is funded; its documents are anchored again", agency, address)
