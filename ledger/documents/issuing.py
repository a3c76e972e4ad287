"""Stored documents: the table, its errors, and issuing (one or in bulk). Reading a document's status and proof is
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
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field, Session, SQLModel

from keys.errors import InvalidInput, NotFound
from keys.protocols import Signer
from ledger._bulk import bound_value, executemany
from ledger.chain.outbox import as_utc, enqueue, enqueue_many
from ledger.chain.proof import RevocationReason
from ledger.documents._fastjson import metadata_json
from ledger.documents.metadata import metadata_digest, parse_document
from ledger.documents.receipt import (
    Receipt,
    ReceiptFields,
    Registry,
    commitment,
    decode_payload,
    encode_payload,
    new_document_id,
    sign_receipt_with_commitment,
    verify_link,
)
from ledger.errors import LedgerError

__all__ = [
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

MAX_FILE_BYTES = 50 * 1024 * 1024
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


# ------------------------------------------------------------------------------------------------------------ table
class DocumentRow(SQLModel, table=True):
    __tablename__ = "ledger_document"

    # Looked up by id and by commitment only: every secondary index is written on every issue (migration 0006
    # dropped those on agency_id, number and sha256, which no query used). Add one with the query that needs it.
    id: str = Field(primary_key=True, max_length=26)  # the receipt's document id (ULID text)
    agency_id: str = Field(max_length=64)
    number: str = Field(max_length=96)
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))  # NFC metadata, the issue's field names
    sha256: str = Field(max_length=64)
    file: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    file_size: int = 0
    filename: str | None = Field(default=None, max_length=255)
    media_type: str | None = Field(default=None, max_length=200)
    payload: str = Field(max_length=1024)
    commitment: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    account: str = Field(max_length=42)  # the agency account that anchors it
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(max_length=42)
    created_at: datetime
    revocation_reason: str | None = Field(default=None, max_length=16)
    revocation_note: str | None = Field(default=None, max_length=1000)
    replaced_by: str | None = Field(default=None, max_length=26)
    revoked_at: datetime | None = None  # when the agency recorded its revocation (its transaction: ledger_revocation)

    @property
    def metadata_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.metadata_json)
        return value

    def receipt(self) -> Receipt:
        return decode_payload(self.payload, registry=Registry.of(self.chain_id, self.contract))


# ------------------------------------------------------------------------------------------------------ issuing
@dataclass(frozen=True)
class IssuedDocument:
    """What issuing answers: the id, the file hash, the payload and where to verify it."""

    id: str
    sha256: str
    payload: str
    verify_url: str
    receipt: dict[str, Any]
    metadata: dict[str, Any]
    status: str = "pending"


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
_INSERT_ROWS = (
    "INSERT INTO ledger_document (id, agency_id, number, metadata_json, sha256, file, file_size, filename, media_type,"
    " payload, commitment, account, chain_id, contract, created_at)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
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


class _Prepared(NamedTuple):
    row: tuple[Any, ...]  # _ROW_COLUMNS
    issued: IssuedDocument
    leaf: bytes


def _prepare(
    issuer: _Issuer, fields: Mapping[str, Any], file_bytes: bytes, filename: str | None, media_type: str | None
) -> _Prepared:
    if not isinstance(file_bytes, bytes | bytearray):
        raise InvalidInput("file: must be bytes")
    if len(file_bytes) > MAX_FILE_BYTES:
        raise DocumentFileTooLarge(f"the file exceeds the {MAX_FILE_BYTES} byte limit")
    doc = parse_document(fields, today=issuer.today)
    digest = hashlib.sha256(file_bytes).digest()
    registry = issuer.registry
    meta = doc.to_dict()
    meta_digest = metadata_digest(meta)
    receipt, leaf = sign_receipt_with_commitment(
        issuer.signer,
        ReceiptFields(
            issuer_id=issuer.agency_id,
            document_id=new_document_id(issuer.now, issuer.randbytes),
            file_sha256=digest,
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
    )
    return _Prepared(row, issued, leaf)


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
    """Validate, hash, sign, store the document and queue its leaf. Durable once the caller commits."""
    issuer = _Issuer.of(agency_id, signer, account_address, registry, now, public_url, randbytes)
    p = _prepare(issuer, fields, file_bytes, filename, media_type)
    session.add(DocumentRow(**dict(zip(_ROW_COLUMNS, p.row, strict=True))))
    enqueue(session, account_address, p.leaf, now)
    session.flush()
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
    """Issue many documents at once (an agency's archive): one driver-level ``executemany`` for the rows and one
    for the leaves.

    All or nothing: the first invalid item raises (its index in ``InvalidInput.message``) and nothing is written.
    """
    issuer = _Issuer.of(agency_id, signer, account_address, registry, now, public_url, randbytes)
    prepared: list[_Prepared] = []
    for i, (fields, data) in enumerate(items):
        try:
            prepared.append(_prepare(issuer, fields, data, None, None))
        except InvalidInput as exc:
            exc.message = f"documents[{i}]: {exc.message}"
            exc.args = (exc.message,)
            raise
    if prepared:
        # The ORM's per-row parameter processing cost as much as the signature; only created_at needs binding
        # (its type's processor, applied once since every row shares it). Bytes go to both drivers as they are.
        created = bound_value(session, DocumentRow.__table__.c.created_at, issuer.now)  # type: ignore[attr-defined]
        executemany(session, _INSERT_ROWS, [(*p.row[:-1], created) for p in prepared])
        enqueue_many(session, account_address, [p.leaf for p in prepared], now)
    return [p.issued for p in prepared]
