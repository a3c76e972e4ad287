"""Rows of an append-only table counted incrementally: what ``/metrics`` reads at every scrape without counting the
whole table each time (documents issued by agency, anchoring batches).

Counting a table at every scrape grows with it: with a million documents, 175 ms of PostgreSQL a scrape (an
index-only scan of two parallel workers), for every API process every 15 s (``python -m bench metrics``).
``RowTally`` counts the table once, then only the rows above a mark.

The mark is an id, and ids grow with the time their rows were created (document ids are ULIDs, issue time first;
batch ids come from a sequence, taken in the transaction that writes ``created_at``). A row is written in the
transaction that takes its id, so once a row older than ``settle`` has id M, every row with a smaller id is
committed, or never will be: the tally keeps the counts of the rows up to the mark, moves the mark up to the newest
row older than ``settle``, and counts the rows above it again at every call. A transaction that commits late, within
``settle``, is counted when it commits. The table's rows are never deleted (a revocation, a batch's state are
updates), so the counts up to the mark only grow.

A transaction held open longer than ``settle`` after taking its id would be missed until the next full count, every
``recount``; tests/ledger/test_row_tally.py checks that bound and the equality with a full count at every step.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

__all__ = ["RECOUNT", "SETTLE", "RowTally"]

SETTLE = timedelta(minutes=10)
RECOUNT = timedelta(hours=1)


class RowTally:
    """The rows of a table by ``group`` (every row under ``""`` without one), equal to a full count of the table,
    from a count of the rows above a mark."""

    def __init__(
        self, model: type[SQLModel], group: Any = None, settle: timedelta = SETTLE, recount: timedelta = RECOUNT
    ) -> None:
        """``model``'s table has an ``id`` that grows with ``created_at``; ``group`` is one of its columns."""
        self.model = model
        self.id, self.created = col(model.id), col(model.created_at)  # type: ignore[attr-defined]
        self.group = None if group is None else col(group)
        self.settle, self.recount = settle, recount
        self._settled: Counter[str] = Counter()  # rows with id <= _mark
        self._mark: Any = None  # None: no row is settled yet
        self._counted_at: datetime | None = None  # the last full count
        self._lock = threading.Lock()  # two scrapes at once share the state

    def _count(self, session: Session, above: Any = None, upto: Any = None) -> Counter[str]:
        """Rows with ``above < id <= upto`` (either bound left out: no bound), by group."""
        if self.group is None:
            query: Any = select(func.count()).select_from(self.model)
        else:
            query = select(self.group, func.count()).group_by(self.group)
        if above is not None:
            query = query.where(self.id > above)
        if upto is not None:
            query = query.where(self.id <= upto)
        rows = session.exec(query).all()
        if self.group is None:
            return Counter({"": int(rows[0])}) if rows and rows[0] else Counter()
        return Counter({str(key): int(n) for key, n in rows})

    def _settled_mark(self, session: Session, now: datetime, above: Any) -> Any:
        """The newest id among rows created before ``now - settle`` (above ``above``: a range of the key)."""
        query = select(func.max(self.id)).where(self.created < now - self.settle)
        if above is not None:
            query = query.where(self.id > above)
        return session.exec(query).one()

    def counts(self, session: Session, now: datetime) -> Counter[str]:
        with self._lock:
            last = self._counted_at
            if last is None or not last <= now < last + self.recount:  # a full count (also when the clock went back)
                self._mark = self._settled_mark(session, now, None)
                self._settled = Counter() if self._mark is None else self._count(session, upto=self._mark)
                self._counted_at = now
            else:
                mark = self._settled_mark(session, now, self._mark)
                if mark is not None:
                    self._settled += self._count(session, above=self._mark, upto=mark)
                    self._mark = mark
            return self._settled + self._count(session, above=self._mark)
