"""The audit log (table ``xacthuc_audit_log``): who did what, when and from where.

Every issue, revocation and supersession, whoever does it (a staff member in the portal, an API key over HTTP, the
CLI), every sign-in, failed sign-in and sign-out in the portal, every change to staff accounts from the CLI, and
every change to an agency's register of offices made in the portal, adds one row, written in the same transaction
as what it records (a document issued is never missing from the log, nor a logged document missing). Rows are only
ever added. Actors: ``staff:<username>``, ``api-key:<key id>`` (with the key's agency and the client's address),
``cli``.

It lives in the composition root because it records acts of several parts (staff in ``keys``, documents in
``ledger``) by the people and tools that reach them through this service; the domain packages know nothing of it.
The HTTP document routes (``ledger.api``) take it as a callback (:func:`api_recorder`), passed in by
``xacthuc.routers``: the same transaction, without ``ledger`` importing upwards.
Read it with ``xacthuc audit --json``, ``GET /v1/audit`` (admin) or, for one document, its page in the portal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Index, insert
from sqlmodel import Field, Session, SQLModel, col, select

from keys.agencies import Principal
from keys.errors import InvalidInput
from keys.limits import AUDIT_PAGE
from keys.validity import utc
from ledger.documents.issuing import IssuedDocument

__all__ = [
    "ACTIONS",
    "CLI_ACTOR",
    "AuditEntry",
    "AuditQuery",
    "api_actor",
    "api_recorder",
    "audit_json",
    "read_audit",
    "record",
    "record_issued",
]

ACTIONS = (
    "signin",
    "signin_failed",
    "signin_throttled",
    "signout",
    "document_issued",
    "document_revoked",
    "document_superseded",
    "staff_created",
    "staff_disabled",
    "staff_password_reset",
    "citizen_registered",
    "credential_offer_created",
    "office_added",
    "office_ended",
    "delegation_added",
    "delegation_revoked",
)
MAX_LIMIT = AUDIT_PAGE
CLI_ACTOR = "cli"


class AuditEntry(SQLModel, table=True):
    __tablename__ = "xacthuc_audit_log"
    __table_args__: ClassVar[Any] = (
        Index("ix_xacthuc_audit_log_agency", "agency_id", "id"),
        Index("ix_xacthuc_audit_log_document", "document_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    action: str = Field(max_length=32)
    actor: str = Field(max_length=100)  # "staff:<username>", "cli", "api-key:<id>"
    agency_id: str | None = Field(default=None, max_length=64)
    document_id: str | None = Field(default=None, max_length=26)
    address: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    now: datetime,
    agency_id: str | None = None,
    document_id: str | None = None,
    address: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry; it is durable with the caller's commit (the same transaction as the act it records)."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown audit action {action!r}")
    row = AuditEntry(
        at=utc(now),
        action=action,
        actor=actor[:100],
        agency_id=agency_id,
        document_id=document_id,
        address=address[:64],
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def record_issued(
    session: Session,
    documents: Iterable[IssuedDocument],
    *,
    actor: str,
    now: datetime,
    agency_id: str,
    address: str = "",
    detail: dict[str, Any] | None = None,
) -> int:
    """One ``document_issued`` entry per document newly issued (one answered as issued before is not a new act), in
    one statement (an import issues thousands); how many were written. Durable with the caller's commit."""
    at = utc(now)
    rows = [
        {
            "at": at,
            "action": "document_issued",
            "actor": actor[:100],
            "agency_id": agency_id,
            "document_id": doc.id,
            "address": address[:64],
            "detail": {"number": doc.metadata.get("number"), "sha256": doc.sha256, **(detail or {})},
        }
        for doc in documents
        if not doc.existing
    ]
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def api_actor(principal: Principal) -> str:
    return f"api-key:{principal.api_key_id}"


def api_recorder(clock: Callable[[], datetime]) -> Callable[..., None]:
    """The HTTP document routes' audit callback (``ledger.api.AuditHook``): the API key and its agency are the
    actor, the client's address is recorded."""

    def hook(
        db: Session, *, action: str, principal: Principal, address: str, document_id: str, detail: dict[str, Any]
    ) -> None:
        record(
            db,
            action=action,
            actor=api_actor(principal),
            now=clock(),
            agency_id=principal.agency_id,
            document_id=document_id,
            address=address,
            detail=detail,
        )

    return hook


@dataclass(frozen=True)
class AuditQuery:
    """Which entries to read, newest first: ``before`` (an entry id) pages back."""

    agency_id: str | None = None
    document_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    before: int | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit: 1 to {MAX_LIMIT}")
        if self.action is not None and self.action not in ACTIONS:
            raise InvalidInput(f"action: one of {', '.join(ACTIONS)}")


def read_audit(session: Session, query: AuditQuery) -> list[AuditEntry]:
    """The entries matching ``query``, newest first."""
    stmt = select(AuditEntry)
    if query.agency_id is not None:
        stmt = stmt.where(AuditEntry.agency_id == query.agency_id)
    if query.document_id is not None:
        stmt = stmt.where(AuditEntry.document_id == query.document_id.upper())
    if query.action is not None:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.actor is not None:
        stmt = stmt.where(AuditEntry.actor == query.actor)
    if query.since is not None:
        stmt = stmt.where(col(AuditEntry.at) >= utc(query.since))
    if query.before is not None:
        stmt = stmt.where(col(AuditEntry.id) < query.before)
    return list(session.exec(stmt.order_by(col(AuditEntry.id).desc()).limit(query.limit)))


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """One entry as ``xacthuc audit --json`` and ``GET /v1/audit`` print it."""
    at = entry.at.replace(tzinfo=UTC) if entry.at.tzinfo is None else entry.at.astimezone(UTC)
    return {
        "id": entry.id,
        "at": at.isoformat().replace("+00:00", "Z"),
        "action": entry.action,
        "actor": entry.actor,
        "agency_id": entry.agency_id,
        "document_id": entry.document_id,
        "address": entry.address,
        "detail": entry.detail,
    }
