"""ledger: unique document numbers per agency and year, and idempotency keys

A number (``2392/QĐ-UBND``) becomes unique per issuing agency and calendar year of ``issued_on``:
``ledger_document.number_year`` holds that year and the unique index ``uq_ledger_document_number_year`` covers
``(agency_id, number, number_year)``. Existing rows get the year of their ``issued_on``. Old data may already hold
the same number twice in a year (it was not refused before): the first of them (by ``created_at``, then id) keeps
the number and the later ones get a NULL ``number_year``, which leaves them out of the index (NULLs are distinct in
a unique index on SQLite and PostgreSQL) and out of the number lookups (``ledger.documents.numbering``), so the
migration never fails on old duplicates and the documents themselves are unchanged (their receipts, metadata and
proofs stay as they are). List them with ``SELECT id, agency_id, number FROM ledger_document WHERE number_year IS
NULL``.

``ledger_idempotency_key`` stores, per agency and ``Idempotency-Key``, the hash of the request and its answer
(``ledger.documents.idempotency``), kept 24 hours.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _issued_on_year() -> str:
    """SQL for the year of a row's ``issued_on`` (``metadata_json`` always holds it, as YYYY-MM-DD)."""
    if op.get_bind().dialect.name == "postgresql":
        return "CAST(substr(CAST(metadata_json AS json) ->> 'issued_on', 1, 4) AS INTEGER)"
    return "CAST(substr(json_extract(metadata_json, '$.issued_on'), 1, 4) AS INTEGER)"


def upgrade() -> None:
    with op.batch_alter_table("ledger_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_year", sa.Integer(), nullable=True))
    op.execute(f"UPDATE ledger_document SET number_year = {_issued_on_year()}")  # noqa: S608 - constant SQL
    # The later duplicates step out of the index (see the docstring).
    op.execute(
        "UPDATE ledger_document SET number_year = NULL WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER"
        " (PARTITION BY agency_id, number, number_year ORDER BY created_at, id) AS n FROM ledger_document) d"
        " WHERE d.n > 1)"
    )
    with op.batch_alter_table("ledger_document", schema=None) as batch_op:
        batch_op.create_index("uq_ledger_document_number_year", ["agency_id", "number", "number_year"], unique=True)

    op.create_table(
        "ledger_idempotency_key",
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "key"),
    )
    with op.batch_alter_table("ledger_idempotency_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_idempotency_key_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_idempotency_key_created_at"))
    op.drop_table("ledger_idempotency_key")
    with op.batch_alter_table("ledger_document", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_document_number_year")
        batch_op.drop_column("number_year")
