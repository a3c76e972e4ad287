"""ledger: no schema change (the number was reserved for an import journal that turned out unneeded)

``xacthuc doc import`` resumes without a journal table: the documents themselves, under migration 0011's unique
index on (agency, number, year), record what an import committed, and a re-run skips the rows whose number and file
are already issued (docs/documents.md, "Importing an archive"). Kept so that the revision chain stays as databases
created while it was reserved recorded it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
