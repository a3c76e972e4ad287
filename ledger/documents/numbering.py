"""Document numbers already taken: a number (``2392/QĐ-UBND``) is unique per issuing agency and calendar year of
``issued_on`` (Decree 30/2020/NĐ-CP numbers restart each year)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

from sqlmodel import Session, col, select

from ledger.documents.issuing import DocumentRow

__all__ = ["find_issued"]


def find_issued(
    session: Session, agency_id: str, numbers: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], tuple[str, str]]:
    """``{(canonical number, year): (document id, sha256)}`` for those of ``numbers`` that ``agency_id`` has issued."""
    wanted = set(numbers)
    if not wanted:
        return {}
    found: dict[tuple[str, int], tuple[str, str]] = {}
    names = sorted({number for number, _ in wanted})
    for i in range(0, len(names), 500):
        rows = session.exec(
            select(DocumentRow.id, DocumentRow.number, DocumentRow.sha256, DocumentRow.metadata_json).where(
                DocumentRow.agency_id == agency_id, col(DocumentRow.number).in_(names[i : i + 500])
            )
        )
        for doc_id, number, sha256, metadata_json in rows:
            year = date.fromisoformat(json.loads(metadata_json)["issued_on"]).year
            if (number, year) in wanted:
                found.setdefault((number, year), (doc_id, sha256))
    return found
