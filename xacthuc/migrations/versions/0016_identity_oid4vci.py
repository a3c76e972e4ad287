"""identity: OpenID4VCI credential offers, access tokens and nonces

``identity_oid4vci_offer`` (one per credential offer: hashes of the offer id, the pre-authorized code and the
transaction code, the wrong-code count, when it was used), ``identity_oid4vci_access_token`` (one credential each)
and ``identity_oid4vci_nonce`` (single-use c_nonces). Secrets are stored only as SHA-256 hashes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_oid4vci_offer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["citizen_id"], ["identity_citizen.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_oid4vci_offer", schema=None) as batch_op:
        batch_op.create_index("uq_identity_oid4vci_offer_code", ["code_hash"], unique=True)
        batch_op.create_index("ix_identity_oid4vci_offer_citizen_id", ["citizen_id"], unique=False)

    op.create_table(
        "identity_oid4vci_access_token",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credential_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["offer_id"], ["identity_oid4vci_offer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_oid4vci_access_token", schema=None) as batch_op:
        batch_op.create_index("ix_identity_oid4vci_access_token_offer_id", ["offer_id"], unique=False)

    op.create_table(
        "identity_oid4vci_nonce",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_oid4vci_nonce", schema=None) as batch_op:
        batch_op.create_index("ix_identity_oid4vci_nonce_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity_oid4vci_nonce", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_oid4vci_nonce_expires_at")
    op.drop_table("identity_oid4vci_nonce")
    with op.batch_alter_table("identity_oid4vci_access_token", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_oid4vci_access_token_offer_id")
    op.drop_table("identity_oid4vci_access_token")
    with op.batch_alter_table("identity_oid4vci_offer", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_oid4vci_offer_citizen_id")
        batch_op.drop_index("uq_identity_oid4vci_offer_code")
    op.drop_table("identity_oid4vci_offer")
