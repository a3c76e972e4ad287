"""Stored documents: issue (one or in bulk), look up, prove, revoke and bundle.

A document row holds the file, its Decree 30 metadata (NFC), the signed receipt's payload and its commitment (the
Merkle leaf data). Its leaf goes into the anchoring outbox in the same transaction, so a document is durable and
queued before the caller answers. No function here commits: the caller owns the transaction.

``status`` is derived, never stored: ``revoked``/``superseded`` once a revocation is confirmed on chain, else
``anchored`` once the leaf's batch is confirmed, else ``pending``. Revoking a pending document is refused
(``DOC_PENDING_ANCHOR``, 409): the registry can only revoke what it knows, and recording a revocation to send later
would show verifiers a document as in force that its agency already withdrew. Retry once it is anchored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol

from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlmodel import Field, Session, SQLModel, select
from web3 import HTTPProvider

from keys.errors import Forbidden, InvalidInput, NotFound
from keys.protocols import Signer
from ledger.document import DOCUMENT_FIELDS, metadata_digest, parse_document
from ledger.errors import AlreadyRevoked, ChainUnavailable, LedgerError
from ledger.outbox import BatchState, _bound, _executemany, as_utc, enqueue, enqueue_many, leaf_proof
from ledger.proof import DocumentChainStatus, Proof, RevocationReason
from ledger.receipt import (
    Receipt,
    ReceiptFields,
    Registry,
    commitment,
    decode_payload,
    encode_payload,
    new_document_id,
    sign_receipt,
    verify_link,
)

__all__ = [
    "MAX_FILE_BYTES",
    "REASONS",
    "DocumentFileTooLarge",
    "DocumentNotFound",
    "DocumentPendingAnchor",
    "DocumentRevoked",
    "DocumentRow",
    "DocumentView",
    "IssuedDocument",
    "RegistryStatusReader",
    "ReplacementInvalid",
    "build_bundle",
    "document_json",
    "get_document",
    "issue_batch",
    "issue_document",
    "proof_for",
    "replacement_for",
    "revoke_document",
]

MAX_FILE_BYTES = 50 * 1024 * 1024
BUNDLE_TYPE = "xacthuc-proof-bundle"
# Decree 30 dates are Vietnamese calendar dates: "today" is Ho Chi Minh City's (UTC+7, no daylight saving).
VN_TZ = timezone(timedelta(hours=7))
REASONS: dict[str, RevocationReason] = {
    "annulled": RevocationReason.ANNULLED,
    "replaced": RevocationReason.REPLACED,
    "error": RevocationReason.ERROR,
    "other": RevocationReason.OTHER,
}
_CONFIRMED = (BatchState.CONFIRMED.value, BatchState.FINAL.value)


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
    revoked_at: datetime | None = None
    revocation_tx: str | None = Field(default=None, max_length=66)

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
_SORTED_FIELDS = tuple(sorted(DOCUMENT_FIELDS))
_json_str: Callable[[str], str] = json.encoder.encode_basestring  # the C string encoder json.dumps uses


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
    issued_at_text: str  # as receipt JSON writes it

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
        text = issued_at.isoformat().replace("+00:00", "Z")
        return cls(
            agency_id, signer, account_address, registry, now, issued_at, _today(now), public_url, randbytes, text
        )


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
    receipt = sign_receipt(
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
    leaf = commitment(receipt)
    doc_id = receipt.document_id_str
    sha256 = digest.hex()
    row = (
        doc_id,
        issuer.agency_id,
        meta["number"],
        _metadata_json(meta),
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
    # receipt_json(receipt, payload) with what the batch shares computed once (a test holds the two equal)
    receipt_body = {
        "payload": payload,
        "issuer_id": issuer.agency_id,
        "kid": receipt.kid.hex(),
        "document_id": doc_id,
        "number": meta["number"],
        "issued_on": meta["issued_on"],
        "issued_at": issuer.issued_at_text,
        "sha256": sha256,
        "metadata_digest": meta_digest.hex(),
        "chain_id": registry.chain_id,
        "contract": registry.hex_address,
        "commitment": "0x" + leaf.hex(),
    }
    issued = IssuedDocument(
        id=doc_id,
        sha256=sha256,
        payload=payload,
        verify_url=verify_link(issuer.public_url, payload),
        receipt=receipt_body,
        metadata=meta,
    )
    return _Prepared(row, issued, leaf)


def _metadata_json(meta: Mapping[str, Any]) -> str:
    """``json.dumps(meta, ensure_ascii=False, sort_keys=True)`` for the metadata dict (str or None values), without
    building an encoder per document (a test holds the two equal): the keys are fixed, so only values are encoded."""
    return _METADATA_TEMPLATE % tuple(["null" if meta[k] is None else _json_str(meta[k]) for k in _SORTED_FIELDS])


_METADATA_TEMPLATE = "{" + ", ".join(f'"{k}": %s' for k in _SORTED_FIELDS) + "}"


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
        created = _bound(session, DocumentRow.__table__.c.created_at, issuer.now)  # type: ignore[attr-defined]
        _executemany(session, _INSERT_ROWS, [(*p.row[:-1], created) for p in prepared])
        enqueue_many(session, account_address, [p.leaf for p in prepared], now)
    return [p.issued for p in prepared]


# ------------------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class DocumentView:
    """A stored document with its derived status and, once anchored, its proof."""

    row: DocumentRow
    status: str
    proof: Proof | None


def _proof(session: Session, leaf: bytes, chain_id: int, contract: str) -> Proof | None:
    found = leaf_proof(session, leaf)
    if found is None:
        return None
    batch = found.batch
    if batch.state not in _CONFIRMED or batch.tx_hash is None or batch.block_number is None:
        return None
    if batch.anchored_at is None:
        return None
    return Proof(
        root=bytes(batch.root),
        path=found.path,
        leaf=leaf,
        chain_id=chain_id,
        contract=contract,
        tx_hash=batch.tx_hash,
        block=int(batch.block_number),
        anchored_at=as_utc(batch.anchored_at),
    )


def proof_for(session: Session, leaf: bytes) -> Proof | None:
    """The anchor proof of the document whose commitment is ``leaf``, once its batch is confirmed; else None."""
    doc = session.exec(select(DocumentRow.chain_id, DocumentRow.contract).where(DocumentRow.commitment == leaf)).first()
    if doc is None:
        return None
    return _proof(session, leaf, doc[0], doc[1])


def _status(row: DocumentRow, proof: Proof | None) -> str:
    if row.revoked_at is not None:
        return "superseded" if row.revocation_reason == "replaced" else "revoked"
    return "anchored" if proof is not None else "pending"


def get_document(session: Session, document_id: str) -> DocumentView:
    """The document, its status and proof; :class:`DocumentNotFound` if there is none."""
    if not isinstance(document_id, str) or len(document_id) > 26:
        raise DocumentNotFound("no such document")
    row = session.get(DocumentRow, document_id.upper())
    if row is None:
        raise DocumentNotFound("no such document")
    proof = _proof(session, row.commitment, row.chain_id, row.contract)
    return DocumentView(row, _status(row, proof), proof)


def replacement_for(session: Session, leaf: bytes) -> dict[str, Any] | None:
    """The number and id of the document whose commitment is ``leaf`` (to name a replacement), or None."""
    found = session.exec(select(DocumentRow.id, DocumentRow.number).where(DocumentRow.commitment == leaf)).first()
    return None if found is None else {"document_id": found[0], "number": found[1]}


def document_json(view: DocumentView, public_url: str) -> dict[str, Any]:
    """The ``GET /v1/documents/{id}`` body (ARCHITECTURE.md): metadata, hash, status, receipt, link, proof."""
    row = view.row
    body: dict[str, Any] = {
        "id": row.id,
        "agency_id": row.agency_id,
        **row.metadata_dict,
        "sha256": row.sha256,
        "status": view.status,
        "receipt": receipt_json(row.receipt(), row.payload),
        "verify_url": verify_link(public_url, row.payload),
        "qr_url": f"{public_url.rstrip('/')}/v1/documents/{row.id}/qr.png",
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }
    if view.proof is not None:
        body["proof"] = view.proof.to_dict()
    if row.revoked_at is not None:
        body["revocation"] = {
            "reason": row.revocation_reason,
            "note": row.revocation_note,
            "replaced_by": row.replaced_by,
            "revoked_at": as_utc(row.revoked_at).isoformat().replace("+00:00", "Z"),
            "tx_hash": row.revocation_tx,
        }
    return body


def build_bundle(view: DocumentView, *, trust_list: str, root_kid: str, public_url: str) -> dict[str, Any]:
    """The proof bundle: everything ``xacthuc verify bundle.json --rpc-url URL --trust-root ROOT.jwk`` needs.

    The signed trust list rides along; the verifier checks it against the root key it pinned itself.
    """
    row = view.row
    return {
        "type": BUNDLE_TYPE,
        "version": 1,
        "payload": row.payload,
        "receipt": receipt_json(row.receipt(), row.payload),
        "metadata": row.metadata_dict,
        "proof": None if view.proof is None else view.proof.to_dict(),
        "registry": {"chain_id": row.chain_id, "contract": row.contract},
        "trust": {"root_kid": root_kid, "trust_list": trust_list, "trust_root_url": f"{public_url}/v1/trust-root"},
    }


# ----------------------------------------------------------------------------------------------------- revoking
class RevokingRegistry(Protocol):
    """What revocation needs from ``ledger.chain.RegistryClient``."""

    def revoke(
        self,
        account: Any,
        root: bytes,
        data: bytes,
        proof: Sequence[bytes],
        reason: int,
        replaced_by: bytes | None = None,
        *,
        timeout: float = 60.0,
    ) -> Any: ...


def _reason(reason: str | None, replaced_by: str | None) -> str:
    if reason is None or reason == "":
        reason = "replaced" if replaced_by else None
    if reason not in REASONS:
        raise InvalidInput(f"reason: must be one of {', '.join(REASONS)}")
    if replaced_by and reason != "replaced":
        raise ReplacementInvalid("replaced_by: a replacement implies the reason 'replaced'")
    return reason


def revoke_document(
    session: Session,
    registry: RevokingRegistry,
    account: Any,
    document: DocumentRow,
    *,
    agency_id: str,
    reason: str | None,
    note: str | None,
    replaced_by: str | None,
    now: datetime,
) -> DocumentView:
    """Revoke (or supersede) an anchored document on chain with its Merkle proof, then record it.

    Only the issuing agency may (``FORBIDDEN`` otherwise; the contract would revert ``NotAnchorer`` anyway).
    A revocation already on chain (a retry after a crash) is recorded, not refused.
    """
    if document.agency_id != agency_id:
        raise Forbidden("this document belongs to another agency")
    code = _reason(reason, replaced_by)
    if note is not None and len(note) > 1000:
        raise InvalidInput("note: at most 1000 characters")
    if document.revoked_at is not None:
        raise DocumentRevoked(f"the document was already {_status(document, None)}")
    replacement: DocumentRow | None = None
    if replaced_by:
        replacement = session.get(DocumentRow, replaced_by.upper()) if len(replaced_by) <= 26 else None
        if replacement is None or replacement.id == document.id:
            raise ReplacementInvalid("replaced_by: no such other document")
    view = get_document(session, document.id)
    if view.proof is None:
        raise DocumentPendingAnchor("the document is not anchored yet; revoke it once it is")
    proof = view.proof
    tx_hash: str | None = None
    try:
        receipt = registry.revoke(
            account,
            proof.root,
            proof.leaf,
            proof.path,
            int(REASONS[code]),
            None if replacement is None else replacement.commitment,
        )
        tx_hash = "0x" + bytes(receipt.tx_hash).hex()
    except AlreadyRevoked:
        pass  # sent before, not recorded (a crash between the two): record it now
    document.revocation_reason = code
    document.revocation_note = note
    document.replaced_by = None if replacement is None else replacement.id
    document.revoked_at = as_utc(now)
    document.revocation_tx = tx_hash
    session.add(document)
    session.flush()
    return DocumentView(document, _status(document, proof), proof)


# ---------------------------------------------------------------------------------------------------- the chain
class _StatusClient(Protocol):
    def status(self, root: bytes, data: bytes) -> Any: ...


class RegistryStatusReader:
    """``ledger.proof.ChainStatusReader`` over the registry: one ``eth_call`` of ``status(root, data)`` each time.

    With a ``RegistryClient`` the call goes straight to the provider as one JSON-RPC request: through ``w3.eth.call``
    web3's validation middleware adds an ``eth_chainId`` round trip or two, which tripled the verification time.
    Any other ``status`` client (fakes) is called as is. Failures raise; the verifier reports them as ``error``.
    """

    def __init__(self, client: _StatusClient) -> None:
        self.client = client

    def status(self, root: bytes, data: bytes) -> DocumentChainStatus:
        client: Any = self.client
        if not (
            hasattr(client, "artifact") and isinstance(getattr(client, "w3", None) and client.w3.provider, HTTPProvider)
        ):
            return self._from(client.status(root, data))
        if len(root) != 32 or len(data) != 32:
            raise LedgerError("root and data are 32 bytes")
        call = {"to": client.address, "data": "0x" + client.artifact.encode_call("status", root, data).hex()}
        try:
            response = client.w3.provider.make_request("eth_call", [call, "latest"])
        except OSError as exc:  # requests' connection errors
            raise ChainUnavailable(f"the Ethereum node is unreachable: {type(exc).__name__}") from exc
        result = response.get("result") if isinstance(response, dict) else None
        if not isinstance(result, str):
            raise ChainUnavailable("the Ethereum node answered eth_call with an error")
        agency, anchored_at, reason, revoked_at, replaced_by = client.artifact.decode_output(
            "status", bytes.fromhex(result.removeprefix("0x"))
        )
        return DocumentChainStatus.from_call(agency, anchored_at, reason, revoked_at, replaced_by)

    @staticmethod
    def _from(s: Any) -> DocumentChainStatus:
        return DocumentChainStatus(
            anchorer=s.agency,
            anchored_at=s.anchored_at,
            reason=int(s.reason or 0),
            revoked_at=s.revoked_at,
            replaced_by=s.replaced_by,
        )
