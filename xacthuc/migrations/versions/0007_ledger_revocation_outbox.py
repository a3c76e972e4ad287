"""ledger: revocations through a durable outbox

A revocation is now a row of ``ledger_revocation``, written with the agency's decision and sent by the anchoring
worker with persisted steps (built, sent, confirmed, final, failed), like a batch. Revocations recorded before this
revision were sent synchronously and may since have been lost in a re-organisation: each becomes a row in state
``built`` with one attempt counted, so the worker first asks the chain and adopts the revocation it finds there,
and sends it again when there is none. ``ledger_document.revocation_tx`` moves to the outbox row (``tx_hash``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_revocation",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.Integer(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("block_number", sa.Integer(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=26), nullable=False),
        sa.Column("data", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.Integer(), nullable=False),
        sa.Column("replaced_by", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mined_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("data"),
        sa.UniqueConstraint("document_id"),
    )
    with op.batch_alter_table("ledger_revocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_revocation_account"), ["account"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_revocation_state"), ["state"], unique=False)

    op.execute(
        "INSERT INTO ledger_revocation (account, state, attempts, document_id, data, reason, replaced_by, created_at)"
        " SELECT d.account, 'built', 1, d.id, d.commitment,"
        " CASE d.revocation_reason WHEN 'annulled' THEN 1 WHEN 'replaced' THEN 2 WHEN 'error' THEN 3 ELSE 4 END,"
        " (SELECT r.commitment FROM ledger_document r WHERE r.id = d.replaced_by), d.revoked_at"
        " FROM ledger_document d WHERE d.revoked_at IS NOT NULL ORDER BY d.revoked_at"
    )
    with op.batch_alter_table("ledger_document", schema=None) as batch_op:
        batch_op.drop_column("revocation_tx")


def downgrade() -> None:
    with op.batch_alter_table("ledger_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revocation_tx", sa.String(length=66), nullable=True))
    op.execute(
        "UPDATE ledger_document SET revocation_tx ="
        " (SELECT r.tx_hash FROM ledger_revocation r WHERE r.document_id = ledger_document.id)"
    )
    with op.batch_alter_table("ledger_revocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_revocation_state"))
        batch_op.drop_index(batch_op.f("ix_ledger_revocation_account"))
    op.drop_table("ledger_revocation")
