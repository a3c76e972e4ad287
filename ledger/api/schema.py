"""What the document routes send, as OpenAPI schemas.

The routes answer the domain's JSON (``ledger.documents.status.document_json``, ``build_bundle``, the issuing
result) as it is; these models describe it for the docs and for clients that generate code, and
tests/test_openapi.py checks real answers against them. The enumerations come from the domain, so the schema names
exactly the values the code accepts and writes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from ledger.chain.outbox import BatchState
from ledger.documents.issuing import REASONS
from ledger.documents.metadata import DOCUMENT_FIELDS, SIGNING_FORMS

__all__ = [
    "BatchIssuedOut",
    "BundleOut",
    "DocumentOut",
    "IssuedOut",
    "MetadataOut",
    "NoticeMessageOut",
    "NoticeOut",
    "ProofOut",
    "ReceiptOut",
    "ReplacementOut",
    "RevocationOut",
    "RevokeIn",
    "batch_schema",
    "reason_schema",
    "signing_form_schema",
]

_CLOSED = ConfigDict(extra="forbid")


def reason_schema() -> dict[str, Any]:
    """A revocation reason: the registry's reason codes by name (``ledger.documents.issuing.REASONS``)."""
    return {"type": "string", "enum": list(REASONS)}


def signing_form_schema() -> dict[str, Any]:
    """A signing form of Decree 30 (``ledger.documents.metadata.SIGNING_FORMS``): TM., KT., TL., TUQ., Q."""
    return {"type": "string", "enum": sorted(SIGNING_FORMS)}


def batch_schema(max_documents: int) -> dict[str, Any]:
    """The body of ``POST /v1/documents:batch``: each document's file in base64 beside its metadata fields."""
    text: dict[str, Any] = {"type": "string"}
    item = {
        "type": "object",
        "required": ["file_base64", *(f for f in DOCUMENT_FIELDS if f != "signing_form")],
        "properties": {
            "file_base64": {"type": "string", "contentEncoding": "base64"},
            **{f: text for f in DOCUMENT_FIELDS},
            "issued_on": {"type": "string", "format": "date"},
            "signing_form": signing_form_schema(),
        },
        "additionalProperties": False,
    }
    documents = {"type": "array", "items": item, "minItems": 1, "maxItems": max_documents}
    return {"type": "object", "required": ["documents"], "properties": {"documents": documents}}


Reason = Annotated[str, WithJsonSchema(reason_schema())]
SigningForm = Annotated[str, WithJsonSchema(signing_form_schema())]
DocumentStatus = Literal["pending", "anchored", "revoked", "superseded"]
Hex = Annotated[str, Field(pattern="^0x[0-9a-f]*$")]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]


class RevokeIn(BaseModel):
    """``POST /v1/documents/{id}/revoke``. ``replaced_by`` implies the reason ``replaced`` (the default then)."""

    model_config = _CLOSED

    # The domain checks the reason (one rule, one message: ``ledger.documents.revocation``); the schema states the
    # same set of values.
    reason: Reason | None = None
    note: str | None = Field(default=None, description="At most 1000 characters")
    replaced_by: str | None = Field(default=None, description="The id of the document that replaces this one")


class MetadataOut(BaseModel):
    """The Decree 30 metadata as stored (NFC, the number in its canonical form)."""

    model_config = _CLOSED

    number: str = Field(description="Number and symbol, e.g. 2392/QĐ-UBND")
    title: str = Field(description="Trích yếu")
    issuing_body: str
    place: str
    issued_on: date
    signer_name: str
    signer_title: str
    signing_form: SigningForm | None


class ReceiptOut(BaseModel):
    """The signed receipt's facts, the key id as carried, the QR payload and the commitment (the Merkle leaf data)."""

    model_config = _CLOSED

    payload: str
    issuer_id: str
    kid: str = Field(description="The signing key's id as the receipt carries it, hex")
    document_id: str
    number: str
    issued_on: date
    issued_at: datetime
    sha256: Sha256 = Field(description="The file's SHA-256, lowercase hex")
    metadata_digest: Sha256 = Field(description="SHA-256 of the canonical metadata, lowercase hex")
    chain_id: int
    contract: str
    commitment: Hex


class ProofOut(BaseModel):
    """The document's anchor: its batch's Merkle root and path, and the transaction that put the root on chain."""

    model_config = _CLOSED

    root: Hex
    path: list[Hex]
    leaf: Hex
    chain_id: int
    contract: str
    tx_hash: str
    block: int
    anchored_at: datetime


class RevocationOut(BaseModel):
    """A recorded revocation and where its transaction is (the document counts as revoked once it is confirmed)."""

    model_config = _CLOSED

    reason: Reason
    note: str | None
    replaced_by: str | None
    revoked_at: datetime = Field(description="When the agency recorded it")
    state: BatchState | None = Field(description="Its outbox transaction: built, sent, confirmed, final or failed")
    tx_hash: str | None
    block: int | None
    confirmed_at: datetime | None = Field(description="The time of the block that confirmed it")


class DocumentOut(MetadataOut):
    """A stored document: its metadata, hash, status, receipt and links, its proof once anchored and its
    revocation once recorded."""

    id: str
    agency_id: str
    sha256: Sha256
    status: DocumentStatus
    receipt: ReceiptOut
    verify_url: str
    qr_url: str
    created_at: datetime
    proof: ProofOut | SkipJsonSchema[None] = None
    revocation: RevocationOut | SkipJsonSchema[None] = None


class NoticeMessageOut(BaseModel):
    """A notice's text in Vietnamese and English."""

    model_config = _CLOSED

    vi: str
    en: str


class NoticeOut(BaseModel):
    """Something the caller should know about an accepted request: ``DOC_NUMBER_NORMALISED`` (the number is stored in
    its canonical form, e.g. ``QD`` read as ``QĐ``), ``DOC_ALREADY_ISSUED`` (the same number and file were issued
    before: this is that document)."""

    model_config = _CLOSED

    code: str = Field(description="Stable: DOC_NUMBER_NORMALISED or DOC_ALREADY_ISSUED")
    field: str
    message: NoticeMessageOut


class IssuedOut(BaseModel):
    """An issued document, durable and queued for anchoring; or, with ``existing``, the document issued before with
    the same number and file (its current status)."""

    model_config = _CLOSED

    id: str
    sha256: Sha256
    status: DocumentStatus
    existing: bool = Field(description="True: issued before (the same number and file), nothing new was issued")
    notices: list[NoticeOut]
    receipt: ReceiptOut
    verify_url: str
    qr_url: str
    metadata: MetadataOut


class BatchIssuedOut(BaseModel):
    """The documents of a batch, issued together, in the order given."""

    model_config = _CLOSED

    documents: list[IssuedOut]


class RegistryOut(BaseModel):
    """The registry contract the document is anchored in."""

    model_config = _CLOSED

    chain_id: int
    contract: str


class TrustOut(BaseModel):
    """What a verifier needs to trust the receipt's key, given the city root key it pinned."""

    model_config = _CLOSED

    root_kid: str
    trust_list: str = Field(description="The signed trust list, a compact JWS: check it against your pinned root")
    trust_root_url: str


class ReplacementOut(BaseModel):
    """The document recorded as replacing this one: its id, number and leaf (the commitment the registry names)."""

    model_config = _CLOSED

    document_id: str
    number: str
    leaf: str = Field(pattern="^0x[0-9a-f]{64}$")


class BundleOut(BaseModel):
    """The proof bundle: verify it with a JSON-RPC node and the pinned city root key, nothing else."""

    model_config = _CLOSED

    type: Literal["xacthuc-proof-bundle"]
    version: Literal[1]
    payload: str
    receipt: ReceiptOut
    metadata: MetadataOut
    proof: ProofOut | None = Field(description="Null while the document is pending")
    registry: RegistryOut
    trust: TrustOut
    replaced_by: ReplacementOut | SkipJsonSchema[None] = Field(
        default=None,
        description="The recorded replacement, when the document is superseded (a hint: the chain decides)",
    )
