"""ledger: the gas model: anchors and revocations sent by the city's relayer account

Every agency's batches and revocations are now sent (and paid for) by the city's one relayer account, each
authorised by the agency's EIP-712 signature (``anchorFor``/``revokeFor``). An outbox row keeps ``account``, the
agency whose record it is (batches are still cut by it, and the registry records under it), and gains ``sender``:
the account that signed and sent its transaction, whose nonce ``nonce`` is. Rows already signed before this
revision were sent by the agency itself, so their ``sender`` is their ``account``; rows not yet signed get the
sender that signs them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("ledger_batch", "ledger_revocation")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sender", sa.String(length=42), nullable=True))
        op.execute(f"UPDATE {table} SET sender = account WHERE nonce IS NOT NULL")  # noqa: S608 (fixed names)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("sender")
