"""ledger: the register of offices and delegations (issue 13)

``ledger_office_entry`` holds each agency's signed register entries (``ledger.offices``), numbered per agency from 1
(unique with the agency), each with its Merkle leaf (unique, as queued in ``ledger_leaf``). Nothing is recorded for
existing data: an agency without entries keeps no register and issues as before.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_office_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("leaf", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_id", "seq", name="uq_ledger_office_entry_seq"),
        sa.UniqueConstraint("leaf"),
    )


def downgrade() -> None:
    op.drop_table("ledger_office_entry")
