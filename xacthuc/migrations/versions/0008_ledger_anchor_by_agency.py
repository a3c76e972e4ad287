"""ledger: anchors keyed by agency and root

The registry now keys anchors by (agency, root) and revocations by (agency, root, data), so the chain index does
too: the tables are recreated with those primary keys. The old rows came from the previous registry (whose events
the new code no longer reads), so they are dropped and the cursor is cleared: the index rebuilds itself from the
configured registry's deployment block on its next sync.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _drop_index_tables() -> None:
    for table in ("ledger_chain_revocation", "ledger_chain_anchor"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_block"))
        op.drop_table(table)
    op.execute(sa.text("DELETE FROM ledger_chain_cursor"))


def _create_index_tables(*, by_agency: bool) -> None:
    """The index tables keyed by agency (this revision) or, for a downgrade, as 0005 made them."""
    agency = sa.Column("agency", sa.String(length=42), nullable=False)
    root = sa.Column("root", sa.LargeBinary(length=32), nullable=False)
    op.create_table(
        "ledger_chain_anchor",
        *((agency, root) if by_agency else (root, agency)),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("tx", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint(*(("agency", "root") if by_agency else ("root",))),
    )
    op.create_table(
        "ledger_chain_revocation",
        *([sa.Column("agency", sa.String(length=42), nullable=False)] if by_agency else []),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(length=32), nullable=False),
        sa.Column("reason", sa.SmallInteger(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by", sa.LargeBinary(length=32), nullable=True),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*(("agency", "root", "data") if by_agency else ("root", "data"))),
    )
    for table in ("ledger_chain_anchor", "ledger_chain_revocation"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_block"), ["block"], unique=False)


def upgrade() -> None:
    _drop_index_tables()
    _create_index_tables(by_agency=True)


def downgrade() -> None:
    _drop_index_tables()
    _create_index_tables(by_agency=False)
