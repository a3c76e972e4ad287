"""keys: staff accounts, their sessions, and failed sign-in counts

``keys_staff`` holds the people who sign in to the agency portal (Argon2id password hashes, ``keys.staff``);
``keys_staff_sessions`` their server-side sessions (only the SHA-256 of each cookie's token, ``keys.staff_sessions``);
``keys_signin_failures`` the failed sign-ins counted per account and per address (``keys.signin_throttle``).
Existing data gains nothing: staff accounts are created with ``xacthuc staff create`` (development mode creates demo
ones on a fresh data dir).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys_staff",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["keys_agencies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("keys_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keys_staff_agency_id"), ["agency_id"], unique=False)
    op.create_table(
        "keys_staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["keys_staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("keys_staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_keys_staff_sessions_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "keys_signin_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("keys_signin_failures")
    with op.batch_alter_table("keys_staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keys_staff_sessions_staff_id"))
    op.drop_table("keys_staff_sessions")
    with op.batch_alter_table("keys_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keys_staff_agency_id"))
    op.drop_table("keys_staff")
