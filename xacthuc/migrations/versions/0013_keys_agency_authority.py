"""keys: authority between agencies

``keys_agency_authority`` records which agency has authority over which (superior, subordinate), one row per pair:
a document the superior issues may then supersede one the subordinate issued (``keys.authority``,
``ledger.documents.replacement``). Nothing is recorded for existing data: until an operator adds a pair, a document
may be replaced only by one of its own agency.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys_agency_authority",
        sa.Column("superior_id", sa.String(length=64), nullable=False),
        sa.Column("subordinate_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subordinate_id"], ["keys_agencies.id"]),
        sa.ForeignKeyConstraint(["superior_id"], ["keys_agencies.id"]),
        sa.PrimaryKeyConstraint("superior_id", "subordinate_id"),
    )
    with op.batch_alter_table("keys_agency_authority", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keys_agency_authority_subordinate_id"), ["subordinate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("keys_agency_authority", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keys_agency_authority_subordinate_id"))
    op.drop_table("keys_agency_authority")
