"""Issuing documents (one or in bulk) and their errors; the table is ``ledger.documents.table``, the numbers'
uniqueness ``ledger.documents.numbering``. Reading a document's status and proof is
``ledger.documents.status``; revoking it on chain is ``ledger.documents.revocation``.

A document row holds the file, its Decree 30 metadata (NFC), the signed receipt's payload and its commitment (the
Merkle leaf data). Its leaf goes into the anchoring outbox in the same transaction, so a document is durable and
queued before the caller answers. No function here commits: the caller owns the transaction.

``status`` is derived, never stored: ``revoked``/``superseded`` once a revocation is confirmed on chain, else
``anchored`` once the leaf's batch is confirmed, else ``pending``. Revoking a pending document is refused
(``DOC_PENDING_ANCHOR``, 409): queued behind its anchor, the revocation would reach the chain a block or more after
the anchor, and in between verifiers would see ``valid`` a document its agency had already withdrawn, with no
sign of it. Retry once it is anchored (seconds with the default batch interval).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from keys.errors import InvalidInput, NotFound
from keys.limits import UPLOAD_BYTES
from keys.protocols import Signer
from ledger._bulk import bound_value, insert_many
from ledger.chain.outbox import as_utc, enqueue, enqueue_many
from ledger.chain.proof import RevocationReason
from ledger.documents._fastjson import metadata_json
from ledger.documents.metadata import Document, Notice, metadata_digest, number_notice, parse_document
from ledger.documents.numbering import DocumentNumberDuplicate, DocumentNumberTaken, find_issued, is_number_conflict
from ledger.documents.receipt import (
    Receipt,
    ReceiptFields,
    Registry,
    commitment,
    encode_payload,
    new_document_id,
    sign_receipt_with_commitment,
    verify_link,
)
from ledger.documents.table import DocumentRow
from ledger.errors import LedgerError
from ledger.offices.register import signer_check

__all__ = [
    "ALREADY_ISSUED",
    "BUNDLE_TYPE",
    "MAX_FILE_BYTES",
    "REASONS",
    "VN_TZ",
    "DocumentFileTooLarge",
    "DocumentNotFound",
    "DocumentPendingAnchor",
    "DocumentRevoked",
    "DocumentRow",
    "IssuedDocument",
    "ReplacementInvalid",
    "issue_batch",
    "issue_document",
    "receipt_json",
]

MAX_FILE_BYTES = UPLOAD_BYTES
BUNDLE_TYPE = "xacthuc-proof-bundle"
# Decree 30 dates are Vietnamese calendar dates: "today" is Ho Chi Minh City's (UTC+7, no daylight saving).
VN_TZ = timezone(timedelta(hours=7))
#: The revocation reasons by the names the API and the database use: annulled, replaced, error, other.
REASONS: dict[str, RevocationReason] = {r.name.lower(): r for r in RevocationReason if r is not RevocationReason.NONE}


# ----------------------------------------------------------------------------------------------------------- errors
class DocumentNotFound(LedgerError, NotFound):
    """No document has this id."""

    code = "DOC_NOT_FOUND"
    http_status = 404


class DocumentFileTooLarge(LedgerError, InvalidInput):
    """The document file exceeds the upload limit."""

    code = "DOC_FILE_TOO_LARGE"
    http_status = 413


class DocumentPendingAnchor(LedgerError):
    """The document is not anchored yet, so the registry cannot revoke it; retry once it is anchored."""

    code = "DOC_PENDING_ANCHOR"
    http_status = 409


class DocumentRevoked(LedgerError):
    """The document is already revoked or superseded."""

    code = "DOC_ALREADY_REVOKED"
    http_status = 409


class ReplacementInvalid(LedgerError, InvalidInput):
    """The replacement document is unknown, the document itself, or given with a reason other than ``replaced``."""

    code = "DOC_REPLACEMENT_INVALID"
    http_status = 422


# ------------------------------------------------------------------------------------------------------ issuing
#: The notice that an answer is a document issued before (the same number and file given again), not a new one.
ALREADY_ISSUED = Notice(
    "DOC_ALREADY_ISSUED",
    "number",
    "Văn bản này đã được cấp trước đây (cùng số, ký hiệu và cùng tệp): đây là văn bản đã có, không cấp văn bản mới.",
    "This document was issued before (the same number and file): this is that document; nothing new was issued.",
)


@dataclass(frozen=True)
class IssuedDocument:
    """What issuing answers: the id, the file hash, the payload and where to verify it.

    ``existing``: the same number and file were issued before, and this is that document (its ``status`` is None
    here: ``ledger.documents.status.get_document`` tells it). ``notices`` say what the caller should know (a number
    stored in its canonical form, an existing document answered).
    """

    id: str
    sha256: str
    payload: str
    verify_url: str
    receipt: dict[str, Any]
    metadata: dict[str, Any]
    status: str | None = "pending"
    existing: bool = False
    notices: tuple[Notice, ...] = ()


def receipt_json(receipt: Receipt, payload: str) -> dict[str, Any]:
    """The receipt as JSON: the signed facts, the key id as carried, the payload and the commitment."""
    return _receipt_json(receipt, payload, commitment(receipt))


def _receipt_json(receipt: Receipt, payload: str, leaf: bytes) -> dict[str, Any]:
    return {
        "payload": payload,
        "issuer_id": receipt.issuer_id,
        "kid": receipt.kid.hex(),
        **receipt.claims(),
        "commitment": "0x" + leaf.hex(),
    }


def _today(now: datetime) -> date:
    return as_utc(now).astimezone(VN_TZ).date()


# What issuing writes, in this order (the revocation columns stay NULL).
_ROW_COLUMNS = (
    "id",
    "agency_id",
    "number",
    "number_year",
    "metadata_json",
    "sha256",
    "file",
    "file_size",
    "filename",
    "media_type",
    "payload",
    "commitment",
    "account",
    "chain_id",
    "contract",
    "created_at",
)


@dataclass(frozen=True)
class _Issuer:
    """What every document of one call shares, worked out once per call rather than once per document."""

    agency_id: str
    signer: Signer
    account_address: str
    registry: Registry
    now: datetime  # UTC: the rows' created_at
    issued_at: datetime  # ``now`` in whole seconds, as receipts sign it
    today: date  # in Ho Chi Minh City
    public_url: str
    randbytes: Callable[[int], bytes]

    @classmethod
    def of(
        cls,
        agency_id: str,
        signer: Signer,
        account_address: str,
        registry: Registry,
        now: datetime,
        public_url: str,
        randbytes: Callable[[int], bytes],
    ) -> _Issuer:
        now = as_utc(now)
        issued_at = now.replace(microsecond=0)
        return cls(agency_id, signer, account_address, registry, now, issued_at, _today(now), public_url, randbytes)


class _Parsed(NamedTuple):
    """A document validated and hashed, not yet signed: what the number check needs."""

    doc: Document
    meta: dict[str, Any]
    digest: bytes  # SHA-256 of the file
    notices: tuple[Notice, ...]

    @property
    def key(self) -> tuple[str, int]:
        """The number's scope: (canonical number, year of issued_on)."""
        return self.meta["number"], self.doc.issued_on.year


class _Prepared(NamedTuple):
    row: tuple[Any, ...]  # _ROW_COLUMNS
    issued: IssuedDocument
    leaf: bytes


def _parse(issuer: _Issuer, fields: Mapping[str, Any], file_bytes: bytes) -> _Parsed:
    if not isinstance(file_bytes, bytes | bytearray):
        raise InvalidInput("file: must be bytes")
    if len(file_bytes) > MAX_FILE_BYTES:
        raise DocumentFileTooLarge(f"the file exceeds the {MAX_FILE_BYTES} byte limit")
    doc = parse_document(fields, today=issuer.today)
    meta = doc.to_dict()
    notice = number_notice(fields.get("number"), doc.number)
    return _Parsed(doc, meta, hashlib.sha256(file_bytes).digest(), () if notice is None else (notice,))


def _prepare(
    issuer: _Issuer, parsed: _Parsed, file_bytes: bytes, filename: str | None, media_type: str | None
) -> _Prepared:
    doc, meta = parsed.doc, parsed.meta
    registry = issuer.registry
    meta_digest = metadata_digest(meta)
    receipt, leaf = sign_receipt_with_commitment(
        issuer.signer,
        ReceiptFields(
            issuer_id=issuer.agency_id,
            document_id=new_document_id(issuer.now, issuer.randbytes),
            file_sha256=parsed.digest,
            metadata_digest=meta_digest,
            issued_at=issuer.issued_at,
            registry=registry,
            number=meta["number"],
            issued_on=doc.issued_on,
        ),
    )
    payload = encode_payload(receipt, registry=registry)
    body = _receipt_json(receipt, payload, leaf)
    doc_id, sha256 = body["document_id"], body["sha256"]
    row = (
        doc_id,
        issuer.agency_id,
        meta["number"],
        doc.issued_on.year,
        metadata_json(meta),  # json.dumps(meta, ensure_ascii=False, sort_keys=True), faster (the bench shows it)
        sha256,
        bytes(file_bytes),
        len(file_bytes),
        (filename or None) and filename[:255],
        (media_type or None) and media_type[:200],
        payload,
        leaf,
        issuer.account_address,
        registry.chain_id,
        registry.hex_address,
        issuer.now,
    )
    issued = IssuedDocument(
        id=doc_id,
        sha256=sha256,
        payload=payload,
        verify_url=verify_link(issuer.public_url, payload),
        receipt=body,
        metadata=meta,
        notices=parsed.notices,
    )
    return _Prepared(row, issued, leaf)


def _existing(session: Session, document_id: str, public_url: str, notices: tuple[Notice, ...]) -> IssuedDocument:
    """The answer for a document issued before, as its first answer gave it (its status is read separately)."""
    row = session.get(DocumentRow, document_id)
    if row is None:  # pragma: no cover - found by number a moment ago, in the same transaction
        raise DocumentNotFound()
    return IssuedDocument(
        id=row.id,
        sha256=row.sha256,
        payload=row.payload,
        verify_url=verify_link(public_url, row.payload),
        receipt=receipt_json(row.receipt(), row.payload),
        metadata=row.metadata_dict,
        status=None,
        existing=True,
        notices=(*notices, ALREADY_ISSUED),
    )


def _number_race(exc: IntegrityError, parsed: Sequence[_Parsed]) -> DocumentNumberTaken:
    """A concurrent issue took one of the numbers between the check and the insert: which one is not known here.

    Nothing more can be read in this transaction (PostgreSQL aborted it): the caller rolls back and may try again,
    which then names the document that holds the number (or answers it, for the same file)."""
    if not is_number_conflict(exc):
        raise exc
    number, year = parsed[0].key if len(parsed) == 1 else ("one of the numbers", parsed[0].doc.issued_on.year)
    return DocumentNumberTaken(number, year, None)


def issue_document(
    session: Session,
    *,
    agency_id: str,
    signer: Signer,
    account_address: str,
    registry: Registry,
    fields: Mapping[str, Any],
    file_bytes: bytes,
    now: datetime,
    public_url: str,
    filename: str | None = None,
    media_type: str | None = None,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> IssuedDocument:
    """Validate, hash, sign, store the document and queue its leaf. Durable once the caller commits.

    The number must be free for ``agency_id`` in the year of ``issued_on`` (``DOC_NUMBER_TAKEN``, naming the document
    that holds it); the same number with the same file is the same request repeated, and answers that document
    (``existing``) instead of issuing a second one. A concurrent issue of the same number that commits first makes
    this one raise ``DOC_NUMBER_TAKEN`` without the holder's id: roll back and call again to learn it.
    """
    issuer = _Issuer.of(agency_id, signer, account_address, registry, now, public_url, randbytes)
    parsed = _parse(issuer, fields, file_bytes)
    held = find_issued(session, agency_id, [parsed.key]).get(parsed.key)
    if held is not None:
        if held[1] == parsed.digest.hex():
            return _existing(session, held[0], issuer.public_url, parsed.notices)
        raise DocumentNumberTaken(*parsed.key, held[0])
    signer_check(session, agency_id)(parsed.doc, None)  # refused when the agency's register does not cover the signer
    p = _prepare(issuer, parsed, file_bytes, filename, media_type)
    session.add(DocumentRow(**dict(zip(_ROW_COLUMNS, p.row, strict=True))))
    enqueue(session, account_address, p.leaf, now)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _number_race(exc, [parsed]) from None
    return p.issued


def issue_batch(
    session: Session,
    *,
    agency_id: str,
    signer: Signer,
    account_address: str,
    registry: Registry,
    items: Sequence[tuple[Mapping[str, Any], bytes]],
    now: datetime,
    public_url: str,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> list[IssuedDocument]:
    """Issue many documents at once (an agency's archive): the rows and then the leaves each in one bulk insert
    below the ORM (``ledger._bulk.insert_many``: ``COPY`` on PostgreSQL).

    All or nothing: the first invalid item raises (its index in ``InvalidInput.message``) and nothing is written.
    Numbers as in :func:`issue_document`: one the agency holds with another file is refused (``DOC_NUMBER_TAKEN``,
    naming the item and the document), one it holds with the same file answers that document (``existing``) in the
    item's place, and two items with the same number and year are refused (``DOC_NUMBER_DUPLICATE``).
    """
    issuer = _Issuer.of(agency_id, signer, account_address, registry, now, public_url, randbytes)
    parsed: list[_Parsed] = []
    first_of: dict[tuple[str, int], int] = {}
    for i, (fields, data) in enumerate(items):
        try:
            p = _parse(issuer, fields, data)
        except InvalidInput as exc:
            exc.message = f"documents[{i}]: {exc.message}"
            exc.args = (exc.message,)
            raise
        first = first_of.setdefault(p.key, i)
        if first != i:
            raise DocumentNumberDuplicate(*p.key, first, i)
        parsed.append(p)
    held = find_issued(session, agency_id, first_of)
    answers: list[IssuedDocument | None] = [None] * len(parsed)
    prepared: list[_Prepared] = []
    covered = signer_check(session, agency_id)  # the agency's register of offices, read once for the batch
    for i, ((_, data), p) in enumerate(zip(items, parsed, strict=True)):
        holder = held.get(p.key) if held else None
        if holder is None:
            covered(p.doc, i)
            prepared.append(_prepare(issuer, p, data, None, None))
            answers[i] = prepared[-1].issued
        elif holder[1] == p.digest.hex():
            answers[i] = _existing(session, holder[0], issuer.public_url, p.notices)
        else:
            raise DocumentNumberTaken(*p.key, holder[0], item=i)
    if prepared:
        # The ORM's per-row parameter processing cost as much as the signature; only created_at needs binding
        # (its type's processor, applied once since every row shares it). Bytes go to both drivers as they are.
        created = bound_value(session, DocumentRow.__table__.c.created_at, issuer.now)  # type: ignore[attr-defined]
        try:
            insert_many(session, "ledger_document", _ROW_COLUMNS, [(*p.row[:-1], created) for p in prepared])
        except IntegrityError as exc:
            raise _number_race(exc, parsed) from None
        enqueue_many(session, account_address, [p.leaf for p in prepared], now)
    return [a for a in answers if a is not None]
