"""identity: citizens scoped to their registering agency

Each identity agency has its own citizen registry: a citizen row belongs to the agency that registered it
(``agency_id``), and a CCCD number is unique per agency instead of city-wide, so registering a number never tells an
agency whether another one holds it (docs/identity.md, "Citizens belong to the registering agency").

Existing rows get the agency that first issued them a credential; a citizen never issued anything gets the only
active agency with the ``identity`` role when there is exactly one, else stays unassigned (``agency_id`` empty:
no agency sees it; the agency re-registers the citizen). Downgrading restores the city-wide unique number and fails
if two agencies registered the same number.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNASSIGNED = ""


def _sole_identity_agency(conn: sa.Connection) -> str | None:
    rows = conn.execute(sa.text("SELECT id, roles, disabled FROM keys_agencies")).all()
    found = []
    for agency_id, roles, disabled in rows:
        role_list = json.loads(roles) if isinstance(roles, str) else roles
        if not disabled and "identity" in (role_list or []):
            found.append(agency_id)
    return found[0] if len(found) == 1 else None


def upgrade() -> None:
    # Added, filled and indexed in place (no table copy): on SQLite a copy of identity_citizen would have to drop
    # the table the credentials' foreign keys point at. SQLite adds a NOT NULL column only with a default, so the
    # column keeps its "" default (no agency) on every backend.
    op.add_column(
        "identity_citizen",
        sa.Column("agency_id", sa.String(length=200), server_default=UNASSIGNED, nullable=False),
    )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE identity_citizen SET agency_id = ("
            " SELECT c.issuer_id FROM identity_credential c WHERE c.citizen_id = identity_citizen.id"
            " ORDER BY c.issued_at, c.id LIMIT 1)"
            " WHERE EXISTS (SELECT 1 FROM identity_credential c WHERE c.citizen_id = identity_citizen.id)"
        )
    )
    sole = _sole_identity_agency(conn)
    if sole is not None:
        conn.execute(
            sa.text("UPDATE identity_citizen SET agency_id = :agency WHERE agency_id = :unassigned"),
            {"agency": sole, "unassigned": UNASSIGNED},
        )
    op.drop_index("ix_identity_citizen_cccd", table_name="identity_citizen")
    op.create_index("uq_identity_citizen_agency_cccd", "identity_citizen", ["agency_id", "cccd"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_identity_citizen_agency_cccd", table_name="identity_citizen")
    op.create_index("ix_identity_citizen_cccd", "identity_citizen", ["cccd"], unique=True)
    op.drop_column("identity_citizen", "agency_id")  # in place too (SQLite >= 3.35), for the same reason
