"""identity: OpenID4VCI credential offers, access tokens and nonces (placeholder, filled in by the OpenID4VCI work)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 17:20:00
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
