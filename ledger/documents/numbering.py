"""Document numbers already taken: a number (``2392/QĐ-UBND``) is unique per issuing agency and calendar year of
``issued_on`` (Decree 30/2020/NĐ-CP numbers restart each year).

The database enforces it: ``ledger_document.number_year`` (the year of ``issued_on``) and the unique index on
``(agency_id, number, number_year)`` (migration 0011). Issuing looks the numbers up first, so a refusal names the
document that holds the number, and a request repeated (the same number with the same file) answers that document
instead of a second one; the index decides when two requests race.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ledger._bulk import among
from ledger.documents.errors import DocumentNumberInvalid
from ledger.documents.table import NUMBER_INDEX, DocumentRow
from ledger.errors import LedgerError

__all__ = ["DocumentNumberDuplicate", "DocumentNumberTaken", "find_issued", "is_number_conflict"]

_CHUNK = 500  # numbers per query: well under every driver's parameter limit


class DocumentNumberTaken(LedgerError):
    """This agency already issued a document with this number in the same year: give the next free number."""

    code = "DOC_NUMBER_TAKEN"
    http_status = 409

    def __init__(self, number: str, year: int, document_id: str | None, *, item: int | None = None) -> None:
        self.field = "number"
        self.number, self.year, self.document_id, self.item = number, year, document_id, item
        where = "" if item is None else f"documents[{item}]: "
        holder = f"document {document_id}" if document_id else "a document issued at the same time"
        super().__init__(
            f"{where}number: {number} is already taken in {year} by {holder} (with another file); numbers are unique"
            " per agency and year of issued_on: give the next free number, or revoke that document and replace it"
        )


class DocumentNumberDuplicate(DocumentNumberInvalid):
    """Two documents of one batch have the same number in the same year: each document needs its own number."""

    code = "DOC_NUMBER_DUPLICATE"

    def __init__(self, number: str, year: int, first: int, second: int) -> None:
        self.number, self.year, self.first, self.second = number, year, first, second
        super().__init__(f"{number} ({year}) is also the number of documents[{first}]")
        self.message = f"documents[{second}]: {self.message}"  # as every other refused item of a batch
        self.args = (self.message,)


def find_issued(
    session: Session, agency_id: str, numbers: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str, str]]:
    """``{(canonical number, year): (document id, sha256)}`` for those of ``numbers`` that ``agency_id`` has issued.

    One indexed query per 500 numbers. A document whose number was already taken before migration 0011 (its
    ``number_year`` is NULL) does not hold it: the first one does.
    """
    wanted = set(numbers)
    if not wanted:
        return {}
    found: dict[tuple[str, int], tuple[str, str]] = {}
    names = sorted({number for number, _ in wanted})
    for i in range(0, len(names), _CHUNK):
        rows = session.exec(
            select(DocumentRow.id, DocumentRow.number, DocumentRow.number_year, DocumentRow.sha256).where(
                DocumentRow.agency_id == agency_id,
                among(session, col(DocumentRow.number), names[i : i + _CHUNK], String()),
                col(DocumentRow.number_year).is_not(None),
            )
        )
        for doc_id, number, year, sha256 in rows:
            if year is not None and (number, year) in wanted:
                found[(number, year)] = (doc_id, sha256)
    return found


def is_number_conflict(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the number index refusing a row (a concurrent issue took the number first)."""
    text = str(exc.orig)
    return NUMBER_INDEX in text or "ledger_document.number_year" in text
