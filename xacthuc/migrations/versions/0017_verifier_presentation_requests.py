"""verifier: OpenID4VP presentation requests

``verifier_presentation_request``: one row per relying party's request (``POST /v1/presentation-requests``), named by
the SHA-256 of its secret id and by the public handle its QR code carries, with the nonce, the claims asked, the
state and, once answered, the verification report.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifier_presentation_request",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
        sa.UniqueConstraint("handle"),
    )
    with op.batch_alter_table("verifier_presentation_request", schema=None) as batch_op:
        batch_op.create_index("ix_verifier_presentation_request_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verifier_presentation_request", schema=None) as batch_op:
        batch_op.drop_index("ix_verifier_presentation_request_expires_at")
    op.drop_table("verifier_presentation_request")
