"""verifier: OpenID4VP presentation requests (placeholder, filled in by the OpenID4VP work)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 17:20:00
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
