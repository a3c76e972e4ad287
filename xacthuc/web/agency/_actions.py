"""What a staff member does through the portal, each through the same domain function the HTTP API calls
(``issue_document``, ``issue_batch``, ``revoke_document``, ``parse_document``), with the same role check
(``keys.agencies.require_role``) and one audit entry in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlmodel import Session

from keys.agencies import require_role
from keys.error_messages import error_dict
from keys.errors import XacthucError
from ledger.documents.issuing import DocumentNotFound, IssuedDocument, issue_batch, issue_document
from ledger.documents.metadata import DOCUMENT_FIELDS, parse_document
from ledger.documents.receipt import Registry
from ledger.documents.revocation import revoke_document
from ledger.documents.status import DocumentView, get_document
from xacthuc import audit
from xacthuc.services import Services

from ._auth import Staff

__all__ = ["field_errors", "find", "issue", "issue_many", "revoke"]

# A valid document, to check one field at a time against the others' being right (``field_errors``).
_SAMPLE = {
    "number": "1/QĐ-UBND",
    "title": "Mẫu",
    "issuing_body": "Ủy ban nhân dân",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-01-02",
    "signer_name": "Nguyễn Văn A",
    "signer_title": "Chủ tịch",
    "signing_form": "",
}


def _registry(services: Services) -> Registry:
    client = services.registry()
    return Registry.of(client.chain_id, client.address)


def issue(
    services: Services,
    db: Session,
    staff: Staff,
    *,
    fields: Mapping[str, Any],
    data: bytes,
    filename: str | None,
    media_type: str | None,
    address: str,
) -> IssuedDocument:
    """Issue one document for the staff member's agency and record it; the caller commits."""
    require_role(staff.principal, "documents:issue")
    agency = staff.agency.id
    now = services.clock()
    city = services.require_city()
    issued = issue_document(
        db,
        agency_id=agency,
        signer=city.keyring(agency).signer(now),
        account_address=city.eth_address(agency),
        registry=_registry(services),
        fields=fields,
        file_bytes=data,
        now=now,
        public_url=services.settings.public_url,
        filename=filename,
        media_type=media_type,
    )
    audit.record_issued(db, [issued], actor=staff.actor, now=now, agency_id=agency, address=address)
    return issued


def issue_many(
    services: Services, db: Session, staff: Staff, items: list[tuple[dict[str, Any], bytes]], *, address: str
) -> list[IssuedDocument]:
    """Issue a chunk of an import, all or none, and record each; the caller commits."""
    require_role(staff.principal, "documents:issue")
    agency = staff.agency.id
    now = services.clock()
    city = services.require_city()
    issued = issue_batch(
        db,
        agency_id=agency,
        signer=city.keyring(agency).signer(now),
        account_address=city.eth_address(agency),
        registry=_registry(services),
        items=items,
        now=now,
        public_url=services.settings.public_url,
    )
    audit.record_issued(
        db, issued, actor=staff.actor, now=now, agency_id=agency, address=address, detail={"import": True}
    )
    return issued


def revoke(
    services: Services,
    db: Session,
    staff: Staff,
    view: DocumentView,
    *,
    reason: str,
    note: str | None,
    replaced_by: str | None,
    address: str,
) -> DocumentView:
    """Revoke or supersede one of the agency's documents (the domain function refuses another agency's) and record
    it; the caller commits."""
    require_role(staff.principal, "documents:revoke")
    now = services.clock()
    result = revoke_document(
        db,
        view.row,
        agency_id=staff.agency.id,
        reason=reason,
        note=note or None,
        replaced_by=replaced_by or None,
        now=now,
    )
    superseded = result.row.revocation_reason == "replaced"
    audit.record(
        db,
        action="document_superseded" if superseded else "document_revoked",
        actor=staff.actor,
        now=now,
        agency_id=staff.agency.id,
        document_id=view.row.id,
        address=address,
        detail={"number": view.row.number, "reason": result.row.revocation_reason, "replaced_by": replaced_by or None},
    )
    return result


def field_errors(fields: Mapping[str, Any], today: date | None = None, lang: str = "en") -> dict[str, dict[str, str]]:
    """Each field's error as the API would answer it (``code``, ``message`` in ``lang``, ``field``, ``lang``), checked
    one field at a time (the others taken from a valid sample) and then all together (rules across fields: the
    number's year)."""
    given = {k: v for k, v in fields.items() if k in DOCUMENT_FIELDS}
    errors: dict[str, dict[str, str]] = {}
    for name in DOCUMENT_FIELDS:
        if name not in given:
            continue
        try:
            parse_document({**_SAMPLE, name: given[name]}, today=today)
        except XacthucError as exc:
            errors[name] = error_dict(exc, lang)
    try:
        parse_document({**_SAMPLE, **given}, today=today)
    except XacthucError as exc:
        field = getattr(exc, "field", None)
        if isinstance(field, str) and field not in errors:
            errors[field] = error_dict(exc, lang)
    return errors


def find(db: Session, staff: Staff, document_id: str) -> DocumentView:
    """One of the staff member's agency's documents; another agency's is ``DOC_NOT_FOUND`` as if it did not exist."""
    view = get_document(db, document_id)
    if view.row.agency_id != staff.agency.id:
        raise DocumentNotFound("no such document")
    return view
