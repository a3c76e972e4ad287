"""The resumable import behind ``xacthuc doc import``: rows checked, looked up, issued chunk by chunk, reported.

Every row is checked first on its own (its file there and readable, its metadata valid). A chunk of checked rows is
then looked up in the register of numbers (``find_issued``): a row whose number the agency has already issued,
from the same file, is **skipped** (a re-run after a failure or an interruption creates nothing twice); from another
file it **fails** (``DOC_NUMBER_TAKEN``, naming the document that has it). Among the rest, a number used twice in
the archive is one document when the file is the same (the later row is skipped as a repeat) and a failure
(``DOC_NUMBER_DUPLICATE``, naming the earlier row) when it is not. What is left is issued in one ``issue_batch``
and committed before the next chunk is read, so what is committed stays committed and is reported whatever
happens after (a chunk that cannot be committed stops the run: nothing of it is written).

The register is the documents table itself, so it cannot disagree with what was issued: no journal of its own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from keys.errors import XacthucError
from keys.protocols import Signer
from ledger.documents.issuing import MAX_FILE_BYTES, DocumentFileTooLarge, IssuedDocument
from ledger.documents.metadata import NUMBER_NORMALISED, number_notice, parse_document
from ledger.documents.numbering import DocumentNumberDuplicate, DocumentNumberTaken, find_issued
from xacthuc.cli._archive import ArchiveRow
from xacthuc.cli._common import as_typed, read_file
from xacthuc.cli._progress import Tick

__all__ = ["IMPORT_CHUNK", "Done", "Failure", "Importer", "IssueFn", "Item", "Report", "TickingSigner", "where"]

IMPORT_CHUNK = 500  # rows per issue_batch and commit
CHUNK_BYTES = 64 * 1024 * 1024  # and at most this much file data held at once

Row = int | str  # the CSV line a record starts on, or the document's file name
Item = tuple[Mapping[str, Any], bytes]
IssueFn = Callable[[Sequence[Item], Tick], list[IssuedDocument]]


def where(row: Row) -> str:
    """A row as a clerk finds it: ``line 12`` of a CSV, or the file name in a directory."""
    return f"line {row}" if isinstance(row, int) else str(row)


@dataclass(frozen=True)
class Failure:
    """A row that was not imported, and why (``code`` and ``message`` as the error gives them)."""

    row: Row
    field: str | None
    code: str
    message: str

    @classmethod
    def of(cls, row: Row, exc: XacthucError, field: str | None = None) -> Failure:
        error = exc.to_dict()
        return cls(row, field or error.get("field"), error["code"], error["message"])

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


class Done(NamedTuple):
    """A row that is a document: issued by this run, skipped (issued before), or in a dry run to be issued."""

    row: Row
    id: str | None  # None in a dry run for a row that would be issued
    number: str  # canonical (``QD`` is stored as ``QĐ``)
    result: str  # issued, skipped, or (dry run) to_issue
    note: str | None = None


@dataclass
class Report:
    """What an import did, row by row; whatever ends it, what was committed is in ``done``."""

    rows: int
    dry_run: bool
    done: list[Done] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    stopped: Failure | None = None  # the chunk that could not be committed (nothing of it is)
    interrupted: bool = False

    def count(self, result: str) -> int:
        return sum(1 for d in self.done if d.result == result)

    @property
    def not_imported(self) -> int:
        return self.rows - len(self.done) - len(self.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "issued": self.count("issued"),
            "skipped": self.count("skipped"),
            "failed": [f.to_json() for f in self.failed],
            "ids": [d.id for d in self.done if d.result == "issued"],
            "rows": self.rows,
            "dry_run": self.dry_run,
            **({"to_issue": self.count("to_issue")} if self.dry_run else {}),
            "documents": [d._asdict() for d in self.done],
            "not_imported": self.not_imported,
            "stopped": None if self.stopped is None else self.stopped.to_json(),
            "interrupted": self.interrupted,
        }


class TickingSigner:
    """A signer that ticks the progress after each signature: issuing signs once per new document, so the bar
    moves per row as ``issue_batch`` works through a chunk, not once per chunk."""

    def __init__(self, inner: Signer, tick: Tick) -> None:
        self.inner, self.tick = inner, tick

    @property
    def kid(self) -> str:
        return self.inner.kid

    @property
    def alg(self) -> str:
        return self.inner.alg

    def sign(self, message: bytes) -> bytes:
        signature = self.inner.sign(message)
        self.tick(1)
        return signature

    def public_jwk(self) -> dict[str, Any]:
        return self.inner.public_jwk()


class _Candidate(NamedTuple):
    row: Row
    fields: Mapping[str, Any]
    data: bytes  # empty in a dry run (only the hash is needed)
    key: tuple[str, int] | None  # (canonical number, year of issued_on); None: not checked here (see Importer)
    sha256: str
    note: str | None  # the number as read, when it differs from the one written (QD -> QĐ)

    @property
    def number(self) -> str:
        return str(self.fields.get("number")) if self.key is None else self.key[0]


_ITEM_INDEX = re.compile(r"documents\[(\d+)\]")


class Importer:
    """Checks rows, skips what is issued, issues the rest chunk by chunk (``issue`` None: a dry run, which writes
    nothing).

    Until a row's metadata or number fails, chunks go to ``issue_batch`` unparsed: it validates every item, answers
    the ones issued before from the same file (skipped here) and refuses the rest of a bad chunk naming the item, as
    this module would, so checking first too would parse every document twice (~12 % of an import's time). The first
    chunk it refuses is rolled back, checked row by row as above, and issued without its bad rows; from then on every
    chunk is checked first (an archive with one bad row likely has more), and a dry run always is.
    """

    def __init__(
        self, session: Session, agency_id: str, issue: IssueFn | None, today: Callable[[], date], tick: Tick
    ) -> None:
        self.session, self.agency_id, self.issue, self.today, self.progress = session, agency_id, issue, today, tick
        self.dry_run = issue is None
        self.checked = self.dry_run  # check every row before issuing it (see the class's docstring)
        self.credit = 0  # rows the progress counted in a chunk that was rolled back, to count once only
        self.first: dict[tuple[str, int], tuple[Row, str]] = {}  # the archive's own register: number -> row, hash
        self.outcome: dict[Row, Done | Failure] = {}  # of the rows in ``first``
        self.repeats: list[tuple[Row, Row]] = []  # a row repeating an earlier one (same number and file)

    def run(self, rows: list[ArchiveRow], report: Report) -> None:
        """Every row in turn, chunk by chunk; the report in the archive's order however it ends."""
        order = {row.row: i for i, row in enumerate(rows)}
        try:
            self._run(rows, report)
        finally:
            report.done.sort(key=lambda d: order[d.row])
            report.failed.sort(key=lambda f: order[f.row])

    def _run(self, rows: list[ArchiveRow], report: Report) -> None:
        pending: list[_Candidate] = []
        size = 0
        try:
            for row in rows:
                candidate = self._check(row, report)
                if candidate is None:
                    continue
                pending.append(candidate)
                size += len(candidate.data)
                if len(pending) >= IMPORT_CHUNK or size >= CHUNK_BYTES:
                    if not self._flush(pending, report):
                        return
                    pending, size = [], 0
            if pending:
                self._flush(pending, report)
        except KeyboardInterrupt:
            self.session.rollback()
            report.interrupted = True

    def tick(self, n: int = 1) -> None:
        used = min(n, self.credit)
        self.credit -= used
        if n > used:
            self.progress(n - used)

    def _fail(self, report: Report, failure: Failure) -> None:
        report.failed.append(failure)
        if not self.dry_run:
            self.tick(1)

    def _check(self, row: ArchiveRow, report: Report) -> _Candidate | None:
        """The row, checked on its own and against the rows before it; None when it failed or repeats one."""
        try:
            return self._checked(row, report)
        finally:
            if self.dry_run:
                self.tick(1)

    def _checked(self, row: ArchiveRow, report: Report) -> _Candidate | None:
        if row.problem is not None or row.path is None:
            assert row.problem is not None
            self._fail(report, Failure.of(row.row, row.problem, row.problem_field))
            return None
        try:
            data = read_file(row.path, field="file")
            if len(data) > MAX_FILE_BYTES:
                raise DocumentFileTooLarge(f"{row.path.name}: larger than the {MAX_FILE_BYTES} byte limit")
        except XacthucError as exc:
            self._fail(report, Failure.of(row.row, exc))
            return None
        unchecked = _Candidate(row.row, row.fields, data, None, "", None)
        return self._parsed(unchecked, report) if self.checked else unchecked

    def _parsed(self, c: _Candidate, report: Report) -> _Candidate | None:
        """``c`` with its number's key, its file's hash and how its number was read; None when its metadata fails."""
        try:
            document = parse_document(c.fields, today=self.today())
        except XacthucError as exc:
            self._fail(report, Failure.of(c.row, exc))
            return None
        key = (str(document.number), document.issued_on.year)
        raw = c.fields.get("number")
        notice = None if raw == key[0] else number_notice(raw, document.number)
        note = None if notice is None else notice.en
        sha256 = hashlib.sha256(c.data).hexdigest()
        return _Candidate(c.row, c.fields, b"" if self.dry_run else c.data, key, sha256, note)

    def _new(self, c: _Candidate, key: tuple[str, int], report: Report) -> bool:
        """Whether ``c``, whose number the agency has not issued, is new in the archive too: else it repeats an
        earlier row (the same file: resolved once that row's outcome is known) or takes its number (another file)."""
        first = self.first.setdefault(key, (c.row, c.sha256))
        if first[0] == c.row:
            return True
        if first[1] == c.sha256:
            self.repeats.append((c.row, first[0]))
        else:
            message = (
                f"{key[0]} ({key[1]}) is also the number of {where(first[0])} of this archive, with another"
                " file: each document needs its own number (per agency and year)"
            )
            self._fail(report, Failure(c.row, "number", DocumentNumberDuplicate.code, message))
        return False

    def _flush(self, chunk: list[_Candidate], report: Report) -> bool:
        """Skip what is issued, issue and commit the rest; False when the chunk could not be committed."""
        if not self.checked:
            done = self._issue_unchecked(chunk, report)
            if done is not None:
                return done
            self.checked = True
            chunk = [p for p in (self._parsed(c, report) for c in chunk) if p is not None]
        fresh: list[_Candidate] = []
        try:
            issued = find_issued(self.session, self.agency_id, [c.key for c in chunk if c.key is not None])
            for c in chunk:
                assert c.key is not None
                if c.key not in issued:
                    if self._new(c, c.key, report):
                        fresh.append(c)
                elif issued[c.key][1] == c.sha256:
                    self._done(report, Done(c.row, issued[c.key][0], c.key[0], "skipped", "already issued"))
                else:
                    failure = Failure.of(c.row, DocumentNumberTaken(*c.key, issued[c.key][0]))
                    self.outcome[c.row] = failure
                    self._fail(report, failure)
            if self.issue is None:
                for c in fresh:
                    self._done(report, Done(c.row, None, c.number, "to_issue", c.note))
            elif fresh:
                documents = self.issue([(c.fields, c.data) for c in fresh], self.tick)
                self.session.commit()
                # one issued by someone else since the look-up, from the same file, is answered: skipped
                self._answered(report, fresh, documents)
        except (XacthucError, SQLAlchemyError, OSError) as exc:
            self.session.rollback()
            self._stop(report, exc, fresh or chunk)
            return False
        self._resolve_repeats(report)
        return True

    def _issue_unchecked(self, chunk: list[_Candidate], report: Report) -> bool | None:
        """The chunk issued as it is: True, or False when it could not be committed (the run stops), or None when
        ``issue_batch`` refused one of its rows (rolled back: the chunk is to be checked row by row)."""
        assert self.issue is not None
        counted = 0

        def tick(n: int = 1) -> None:
            nonlocal counted
            counted += n
            self.tick(n)

        try:
            documents = self.issue([(c.fields, c.data) for c in chunk], tick)
            self.session.commit()
        except (XacthucError, SQLAlchemyError, OSError) as exc:
            self.session.rollback()
            if isinstance(exc, XacthucError) and _ITEM_INDEX.match(exc.to_dict()["message"]):
                self.credit += counted  # those rows come again
                return None
            self._stop(report, exc, chunk)
            return False
        self._answered(report, chunk, documents)
        return True

    def _answered(self, report: Report, chunk: list[_Candidate], documents: list[IssuedDocument]) -> None:
        """Each row of ``chunk`` with what ``issue_batch`` answered for it: issued, or (``existing``) skipped."""
        for c, d in zip(chunk, documents, strict=True):
            number = d.metadata["number"]
            if d.existing:
                self._done(report, Done(c.row, d.id, number, "skipped", "already issued"))
            else:
                note = c.note or next((n.en for n in d.notices if n.code == NUMBER_NORMALISED), None)
                self._done(report, Done(c.row, d.id, number, "issued", note), tick=False)

    def _done(self, report: Report, done: Done, *, tick: bool = True) -> None:
        report.done.append(done)
        self.outcome[done.row] = done
        if tick and not self.dry_run:
            self.tick(1)

    def _stop(self, report: Report, exc: BaseException, chunk: list[_Candidate]) -> None:
        typed = as_typed(exc)
        if typed is None:
            raise exc
        error = typed.to_dict()
        where = _ITEM_INDEX.search(error["message"])
        row = chunk[int(where[1])].row if where and int(where[1]) < len(chunk) else chunk[0].row
        report.stopped = Failure(row, error.get("field"), error["code"], error["message"])

    def _resolve_repeats(self, report: Report) -> None:
        for row, first in self.repeats:
            outcome = self.outcome[first]
            if isinstance(outcome, Done):
                self._done(report, Done(row, outcome.id, outcome.number, "skipped", f"repeats {where(first)}"))
            else:
                self._fail(report, Failure(row, outcome.field, outcome.code, f"as {where(first)}: {outcome.message}"))
        self.repeats.clear()
