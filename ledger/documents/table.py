"""The document table, ``ledger_document``: one row per issued document (migrations 0004, 0006, 0011).

Its own module so that issuing (``ledger.documents.issuing``) and the number register
(``ledger.documents.numbering``) both build on it without importing each other.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from ledger.documents.receipt import Receipt, Registry, decode_payload

__all__ = ["NUMBER_INDEX", "DocumentRow"]

#: The unique index that makes a number (``2392/QĐ-UBND``) one document per agency and calendar year of ``issued_on``.
NUMBER_INDEX = "uq_ledger_document_number_year"


class DocumentRow(SQLModel, table=True):
    __tablename__ = "ledger_document"
    # Looked up by id, by commitment, and by (agency, number, year) for the number's uniqueness: every secondary index
    # is written on every issue (migration 0006 dropped those on agency_id, number and sha256, which no query used).
    # A NULL number_year is outside the index: rows that took an already-taken number before migration 0011.
    __table_args__: ClassVar[Any] = (Index(NUMBER_INDEX, "agency_id", "number", "number_year", unique=True),)

    id: str = Field(primary_key=True, max_length=26)  # the receipt's document id (ULID text)
    agency_id: str = Field(max_length=64)
    number: str = Field(max_length=96)
    number_year: int | None = None  # the calendar year of issued_on: the number's scope (Decree 30 restarts yearly)
    metadata_json: str = Field(sa_column=Column(Text, nullable=False))  # NFC metadata, the field names
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
