"""What the portal reads about one agency's documents: a page of the list (search, filter, paging), counts by status,
the last anchors. Always scoped to one agency: nothing here can return another agency's document.

The status of each listed document is ``ledger.documents.status.get_document``'s (the one definition); the SQL
``CASE`` below only filters and counts by it, and a test proves the two agree for every status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_
from sqlmodel import Session, col, select

from ledger.chain.outbox import CONFIRMED_STATES, AnchorBatch, AnchorLeaf, RevocationTx
from ledger.documents.issuing import DocumentNotFound, DocumentRow
from ledger.documents.status import DocumentView, get_document
from xacthuc.audit import MAX_LIMIT, AuditEntry, AuditQuery, read_audit

__all__ = [
    "STATUSES",
    "DocumentPage",
    "ListQuery",
    "find_replacement",
    "history",
    "last_anchors",
    "list_documents",
    "replaced_by_this",
    "status_counts",
    "statuses_of",
]

STATUSES = ("pending", "anchored", "revoked", "superseded")
PAGE_SIZE = 20
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # a document id


def _status_expr() -> Any:
    revoked = and_(col(RevocationTx.state).in_(CONFIRMED_STATES))
    return case(
        (and_(revoked, col(DocumentRow.revocation_reason) == "replaced"), literal("superseded")),
        (revoked, literal("revoked")),
        (col(AnchorBatch.state).in_(CONFIRMED_STATES), literal("anchored")),
        else_=literal("pending"),
    )


def _scoped(agency_id: str, *columns: Any) -> Any:
    return (
        select(*columns)
        .select_from(DocumentRow)
        .outerjoin(AnchorLeaf, col(AnchorLeaf.data) == col(DocumentRow.commitment))
        .outerjoin(AnchorBatch, col(AnchorBatch.id) == col(AnchorLeaf.batch_id))
        .outerjoin(RevocationTx, col(RevocationTx.document_id) == col(DocumentRow.id))
        .where(col(DocumentRow.agency_id) == agency_id)
    )


@dataclass(frozen=True)
class ListQuery:
    q: str = ""
    status: str = ""
    issued_from: date | None = None
    issued_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class DocumentPage:
    views: list[DocumentView]
    total: int
    page: int
    pages: int


def list_documents(session: Session, agency_id: str, query: ListQuery) -> DocumentPage:
    """One page of ``agency_id``'s documents, newest first: ``q`` in the number or the title (case-insensitive),
    ``status`` one of :data:`STATUSES`, ``issued_from``/``issued_to`` bound the date of issue (created_at, in the
    service's days)."""
    status = _status_expr()
    stmt = _scoped(agency_id, col(DocumentRow.id))
    if query.q.strip():
        # lower() on both sides where the database lowers Unicode (PostgreSQL); SQLite lowers only ASCII, so the
        # text as typed is tried too (its LIKE ignores ASCII case): "16/QĐ" finds 16/QĐ-UBND on both
        raw, lowered = f"%{query.q.strip()}%", f"%{query.q.strip().lower()}%"
        number, meta = col(DocumentRow.number), cast(col(DocumentRow.metadata_json), String)
        stmt = stmt.where(
            or_(
                func.lower(number).like(lowered),
                number.like(raw),
                func.lower(meta).like(lowered),
                meta.like(raw),
            )
        )
    if query.status in STATUSES:
        stmt = stmt.where(status == query.status)
    if query.issued_from is not None:
        stmt = stmt.where(col(DocumentRow.created_at) >= datetime.combine(query.issued_from, datetime.min.time()))
    if query.issued_to is not None:
        end = datetime.combine(query.issued_to + timedelta(days=1), datetime.min.time())
        stmt = stmt.where(col(DocumentRow.created_at) < end)
    total = int(session.exec(select(func.count()).select_from(stmt.subquery())).one())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, query.page), pages)
    ids = session.exec(
        stmt.order_by(col(DocumentRow.created_at).desc(), col(DocumentRow.id).desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return DocumentPage([get_document(session, i) for i in ids], total, page, pages)


def status_counts(session: Session, agency_id: str) -> dict[str, int]:
    """How many of ``agency_id``'s documents are in each status."""
    status = _status_expr()
    rows = session.exec(_scoped(agency_id, status, func.count()).group_by(status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(s): int(n) for s, n in rows})
    return counts


def statuses_of(session: Session, agency_id: str, ids: list[str]) -> dict[str, str]:
    """The status of each of ``ids`` that is ``agency_id``'s (others are left out, as if unknown)."""
    out: dict[str, str] = {}
    for document_id in ids[:100]:
        row = session.get(DocumentRow, document_id.upper())
        if row is not None and row.agency_id == agency_id:
            out[row.id] = get_document(session, row.id).status
    return out


def last_anchors(session: Session, account: str | None, limit: int = 5) -> list[AnchorBatch]:
    """The agency's last anchored batches (its documents' leaves are recorded under its account)."""
    if not account:
        return []
    stmt = (
        select(AnchorBatch)
        .where(func.lower(col(AnchorBatch.account)) == account.lower())
        .where(col(AnchorBatch.state).in_(CONFIRMED_STATES))
        .order_by(col(AnchorBatch.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def replaced_by_this(session: Session, document_id: str) -> list[DocumentRow]:
    """The documents recorded as replaced by ``document_id`` (of its agency, or of one it has authority over)."""
    stmt = select(DocumentRow).where(col(DocumentRow.replaced_by) == document_id).order_by(col(DocumentRow.id))
    return list(session.exec(stmt.limit(50)))


def history(session: Session, document_id: str, replaced: list[str]) -> list[AuditEntry]:
    """The document's whole history, newest first, whoever acted (staff, an API key, the CLI): every entry about it,
    and the supersessions of the documents it replaced."""
    entries = read_audit(session, AuditQuery(document_id=document_id, limit=MAX_LIMIT))
    for other in replaced:
        entries += read_audit(session, AuditQuery(document_id=other, action="document_superseded", limit=10))
    return sorted(entries, key=lambda e: e.id or 0, reverse=True)


def find_replacement(session: Session, agency_id: str, text: str) -> DocumentView:
    """The replacing document a clerk names: by its id (of any agency: the supersession rules, in the domain
    function, decide whether it may replace), or by its number among ``agency_id``'s own documents (the newest
    with it). ``DOC_NOT_FOUND`` when there is none."""
    text = " ".join(text.split())
    if _ULID.fullmatch(text.upper()):
        return get_document(session, text.upper())
    stmt = (
        select(col(DocumentRow.id))
        .where(col(DocumentRow.agency_id) == agency_id)
        .where(or_(col(DocumentRow.number) == text, func.upper(col(DocumentRow.number)) == text.upper()))
        .order_by(col(DocumentRow.created_at).desc())
        .limit(1)
    )
    found = session.exec(stmt).first()
    if found is None:
        raise DocumentNotFound(f"no document of the agency has the id or number {text!r}")
    return get_document(session, found)
