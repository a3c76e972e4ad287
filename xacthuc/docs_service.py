"""Wiring documents and verification into the service: the document, verify and offline-bundle routers.

The server's verifier (its trust list, proofs, chain and status lists) is ``xacthuc.server_verifier``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter

from keys.api import require
from ledger.api import build_router as documents_router
from verifier.api import build_router as verify_router
from verifier.api.routes import build_offline_router
from verifier.qr import qr_png, qr_svg
from xacthuc.offline_bundle import OfflineBundleSource, city_bundle_builder
from xacthuc.server_verifier import ServerVerifier
from xacthuc.services import Services

__all__ = ["ServerVerifier", "document_routers"]


def document_routers(services: Services) -> list[APIRouter]:
    """The documents and verification routers over ``services``."""
    verifier = ServerVerifier(services)
    settings = services.settings

    def signer_for(agency_id: str, now: datetime) -> Any:
        return services.require_city().keyring(agency_id).signer(now)

    def account_for(agency_id: str) -> Any:
        return services.require_city().eth_account(agency_id)

    def trust_list() -> tuple[str, str]:
        trust = verifier.trust_list()
        return trust.token, trust.root_kid

    return [
        documents_router(
            session=services.session,
            require_issue=require("documents:issue", services.session),
            require_revoke=require("documents:revoke", services.session),
            signer_for=signer_for,
            account_for=account_for,
            registry=verifier.registry,
            trust_list=trust_list,
            clock=services.clock,
            public_url=settings.public_url,
            qr_png=qr_png,
            qr_svg=qr_svg,
            file_limit=settings.upload_limit,
            revoke_wait=settings.revoke_wait,
        ),
        verify_router(verify=verifier, file_limit=settings.upload_limit),
        build_offline_router(bundle=_offline_bundle(services)),
    ]


def _offline_bundle(services: Services) -> OfflineBundleSource:
    """``GET /v1/offline-bundle``: trust list, status lists and registry state, signed by the city root key."""
    settings = services.settings
    build = city_bundle_builder(
        engine=services.engine,
        city=services.require_city,
        registry=services.registry,
        status_base_url=settings.public_url + "/v1/status-lists",
        ttl=timedelta(seconds=settings.offline_bundle_ttl),
    )

    def generation() -> str:
        return services.require_city().keystore.generation()

    return OfflineBundleSource(build, services.clock, generation=generation)
