"""ledger: the outbox's indexes cover what their queries read

``ix_ledger_leaf_waiting`` was ``(account, batch_id, id)`` over every leaf ever queued. PostgreSQL does not take
``batch_id IS NULL`` as an equality when it orders a scan, so the worker's query (an account's waiting leaves,
oldest first, ``LIMIT batch_max``) read every waiting leaf and sorted them for each batch: 11.7 ms a batch with
48,000 leaves waiting. It is now ``(account, id) WHERE batch_id IS NULL``: only the waiting leaves, in the order the
worker reads them (0.27 ms), and it shrinks as they are anchored instead of growing with the archive.

``ix_ledger_leaf_batch`` (``batch_id`` of the leaves in a batch) lets the anchoring lag (the oldest leaf not yet in a
confirmed batch, read by ``/metrics`` and the agency page) read the leaves of the open batches, not the whole table.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_WAITING = sa.text("batch_id IS NULL")
_BATCHED = sa.text("batch_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("ledger_leaf", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_leaf_waiting")
        batch_op.create_index(
            "ix_ledger_leaf_waiting", ["account", "id"], postgresql_where=_WAITING, sqlite_where=_WAITING
        )
        batch_op.create_index("ix_ledger_leaf_batch", ["batch_id"], postgresql_where=_BATCHED, sqlite_where=_BATCHED)


def downgrade() -> None:
    with op.batch_alter_table("ledger_leaf", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_leaf_batch")
        batch_op.drop_index("ix_ledger_leaf_waiting")
        batch_op.create_index("ix_ledger_leaf_waiting", ["account", "batch_id", "id"], unique=False)
