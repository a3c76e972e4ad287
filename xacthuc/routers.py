"""Which routes the app serves: each part's thin router, given what it needs from the services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter

from identity.api import build_router as identity_router
from identity.api import require_any
from identity.oid4vci.api import build_router as oid4vci_router
from keys.api import build_router as keys_router
from keys.api import require
from keys.bootstrap import CITY_ID
from keys.protocols import Signer
from keys.x509 import VerifierRequestKey
from ledger.api import build_router as documents_router
from ledger.api.offices import build_router as offices_router
from ledger.api.stamped import build_stamped_router
from ledger.errors import ChainUnavailable
from verifier.api import build_router as verify_router
from verifier.api.routes import build_offline_router
from verifier.oid4vp.api import build_router as presentation_router
from verifier.qr import qr_matrix, qr_png, qr_svg
from xacthuc.audit import api_recorder
from xacthuc.audit_api import build_audit_router
from xacthuc.offline_bundle import OfflineBundleSource, city_bundle_builder
from xacthuc.server_verifier import ServerVerifier
from xacthuc.services import Services
from xacthuc.web.agency import build_agency_router

__all__ = ["build_routers"]

log = logging.getLogger("xacthuc")


def build_routers(services: Services, verifier: ServerVerifier) -> list[APIRouter]:
    """Every route the app serves, over ``services`` (``verifier`` answers every verification the server makes)."""
    return [
        keys_router(services.session, services.require_city, services.clock),
        _documents(services, verifier),
        verify_router(verify=verifier, verify_now=verifier.verify_now, file_limit=services.settings.upload_limit),
        build_offline_router(bundle=_offline_bundle(services)),
        build_stamped_router(session=services.session, public_url=services.settings.public_url, qr_matrix=qr_matrix),
        _identity(services),
        _oid4vci(services, verifier),
        build_audit_router(session=services.session, require_admin=require("admin", services.session)),
        build_agency_router(services),
        _offices(services),
        _presentation_requests(services, verifier),
    ]


def _signer_for(services: Services) -> Callable[[str, datetime], Signer]:
    def signer_for(agency_id: str, now: datetime) -> Signer:
        return services.require_city().keyring(agency_id).signer(now)

    return signer_for


def _documents(services: Services, verifier: ServerVerifier) -> APIRouter:
    settings = services.settings

    def address_for(agency_id: str) -> str:
        return services.require_city().eth_address(agency_id)  # read without unlocking the key: issuing signs no tx

    def trust_list() -> tuple[str, str]:
        trust = verifier.trust_list()
        return trust.token, trust.root_kid

    return documents_router(
        session=services.session,
        require_issue=require("documents:issue", services.session),
        require_revoke=require("documents:revoke", services.session),
        signer_for=_signer_for(services),
        address_for=address_for,
        registry=verifier.registry,
        trust_list=trust_list,
        clock=services.clock,
        public_url=settings.public_url,
        qr_png=qr_png,
        qr_svg=qr_svg,
        file_limit=settings.upload_limit,
        revoke_wait=settings.revoke_wait,
        after_revocation=lambda: _catch_up_index(services),
        audit=api_recorder(services.clock),
    )


def _offices(services: Services) -> APIRouter:
    """An agency's register of offices and delegations: public to read, its `admin` (or the city's) writes."""
    return offices_router(
        session=services.session,
        require_admin=require("admin", services.session),
        signer_for=_signer_for(services),
        address_for=lambda agency_id: services.require_city().eth_address(agency_id),
        registry=services.document_registry,
        clock=services.clock,
        city_id=CITY_ID,
    )


def _catch_up_index(services: Services) -> None:
    """Index the chain up to its head now (the indexer thread would within its poll), so a verification right after
    a confirmed revocation reads it; best effort: a node that fails here leaves the index to its thread."""
    if services.indexer is None:
        return
    try:
        services.indexer.sync()
    except ChainUnavailable:
        log.warning("chain index catch-up after a revocation failed; the index thread will catch up")


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


def _presentation_requests(services: Services, verifier: ServerVerifier) -> APIRouter:
    """OpenID4VP: relying parties' presentation requests, signed with the city's verifier key (made on first use)."""
    public_url = services.settings.public_url
    host = urlsplit(public_url).hostname or "localhost"

    def request_key() -> VerifierRequestKey:
        return services.require_city().verifier_request_key(host, services.clock())

    return presentation_router(
        session=services.session,
        verify=verifier,
        request_key=request_key,
        clock=services.clock,
        public_url=public_url,
        qr_svg=qr_svg,
    )


def _oid4vci(services: Services, verifier: ServerVerifier) -> APIRouter:
    """OpenID4VCI: this service is the credential issuer (its public URL) and its own authorization server."""

    def issuer_jwks(agency_id: str) -> list[dict[str, Any]] | None:
        # The keys an identity agency signs credentials with, as the trust list publishes them; compromised ones left
        # out, retired ones kept (they verify what they signed).
        agency = verifier.trust_list().agency(agency_id)
        if agency is None or "identity" not in agency.roles:
            return None
        return [dict(k.jwk) for k in agency.keys if k.status != "compromised"]

    return oid4vci_router(
        session=services.session,
        require_issue=require("identity:issue", services.session),
        signer_for=_signer_for(services),
        issuer_jwks=issuer_jwks,
        clock=services.clock,
        public_url=services.settings.public_url,
    )


def _identity(services: Services) -> APIRouter:
    return identity_router(
        session=services.session,
        require_issue=require("identity:issue", services.session),
        require_revoke=require_any(("identity:revoke", "admin"), services.session),
        signer_for=_signer_for(services),
        clock=services.clock,
        public_base_url=services.settings.public_url,
    )
