"""Per-row progress of a long command on standard error: a bar with the rate and the time left on a terminal, one
plain line every ``every`` rows otherwise (a log or a pipe gets no bar drawing, and no line per row)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["Tick", "row_progress"]

Tick = Callable[[int], None]
"""Called with the number of rows just done (usually 1)."""


class _RateColumn(ProgressColumn):
    """Rows per second over the last seconds (Rich's own estimate, as the time left uses)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


class _Lines:
    """``label done/total rows, R rows/s, about S s left`` every ``every`` rows and once at the end."""

    def __init__(self, console: Console, label: str, total: int, every: int) -> None:
        self.console, self.label, self.total, self.every = console, label, total, every
        self.done = 0
        self.next_line = every
        self.start = time.perf_counter()

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self.next_line and self.done < self.total:
            self.next_line = self.done + self.every
            rate = self.done / max(time.perf_counter() - self.start, 1e-9)
            left = (self.total - self.done) / rate
            self._say(f"{self.done}/{self.total} rows, {rate:,.0f} rows/s, about {left:,.0f} s left")

    def finish(self) -> None:
        elapsed = time.perf_counter() - self.start
        self._say(f"{self.done}/{self.total} rows in {elapsed:,.1f} s, {self.done / max(elapsed, 1e-9):,.0f} rows/s")

    def _say(self, text: str) -> None:
        self.console.print(f"{self.label} {text}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def row_progress(console: Console, label: str, total: int, *, every: int = 1000) -> Iterator[Tick]:
    """A ``tick(n)`` for ``total`` rows: the bar moves per row on a terminal; otherwise a line every ``every`` rows
    and a last one with the rate (also after an interruption or a failure, so a log shows how far it got)."""
    if not console.is_terminal:
        lines = _Lines(console, label, total, every)
        try:
            yield lines.tick
        finally:
            lines.finish()
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=total)

        def tick(n: int = 1) -> None:
            bar.advance(task, n)

        yield tick
