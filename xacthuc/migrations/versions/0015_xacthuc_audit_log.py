"""xacthuc: the audit log

``xacthuc_audit_log``: one row per act (sign-in, failed sign-in, issue, revoke, supersede, staff changes) with the
actor, the time, the address and the agency or document it concerns (``xacthuc.audit``). Only ever appended to.
Nothing is back-filled: what happened before this migration was not recorded.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xacthuc_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("document_id", sa.String(length=26), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("xacthuc_audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_xacthuc_audit_log_agency", ["agency_id", "id"], unique=False)
        batch_op.create_index("ix_xacthuc_audit_log_document", ["document_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("xacthuc_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_xacthuc_audit_log_document")
        batch_op.drop_index("ix_xacthuc_audit_log_agency")
    op.drop_table("xacthuc_audit_log")
