"""Which routes the app serves: each part's thin router, given what it needs from the services."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from identity.api import build_router as identity_router
from identity.api import require_any
from keys.api import build_router as keys_router
from keys.api import require
from keys.protocols import Signer
from xacthuc.docs_service import document_routers
from xacthuc.services import Services


def build_routers(services: Services) -> list[APIRouter]:
    return [
        keys_router(services.session, services.require_city, services.clock),
        *document_routers(services),
        _identity(services),
    ]


def _identity(services: Services) -> APIRouter:
    def signer_for(agency_id: str, now: datetime) -> Signer:
        return services.require_city().keyring(agency_id).signer(now)

    return identity_router(
        session=services.session,
        require_issue=require("identity:issue", services.session),
        require_revoke=require_any(("identity:revoke", "admin"), services.session),
        signer_for=signer_for,
        clock=services.clock,
        public_base_url=services.settings.public_url,
    )
