"""HTTP routes of the OpenID4VP verifier: the relying party's ``/v1/presentation-requests`` and the wallet's
``/oid4vp/requests/{handle}`` and ``/oid4vp/responses/{handle}``.

Everything the routes need is injected by the composition root (``xacthuc.routers``): the session dependency, the
credential verification (the server's ``Verifier``), the request-signing key and certificate, the clock, the public
URL and the randomness. ``/v1/*`` answers our typed errors; ``/oid4vp/*`` answers OAuth-shaped ones, for wallets.
"""
# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from keys.api import error_responses
from keys.errors import InvalidInput
from keys.limits import OID4VP_FORM_BYTES
from keys.x509 import VerifierRequestKey
from verifier.api.schema import VerificationReport
from verifier.dispatch import VerifyRequest
from verifier.errors import PresentationClaimsInvalid, PresentationRequestNotFound
from verifier.report import Report

from .. import requests as pr
from ..request_object import MEDIA_TYPE, request_claims, sign_request_object
from ..responses import OAuthError, open_for_answer, parse_response, record, verify_presentation

__all__ = ["build_router"]

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_FORM = OID4VP_FORM_BYTES
_CLAIMS_SCHEMA = {"type": "string", "enum": list(pr.CLAIM_NAMES)}
_CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["claims"],
                    "properties": {
                        "claims": {"type": "array", "items": _CLAIMS_SCHEMA, "minItems": 1, "uniqueItems": True},
                        "purpose": {"type": "string", "maxLength": pr.MAX_PURPOSE},
                    },
                    "additionalProperties": False,
                }
            }
        },
    }
}


class PresentationRequestOut(BaseModel):
    """A new presentation request. ``id`` is secret (it reads the result): keep it on the relying party's side; the
    QR code carries ``wallet_url`` (or ``wallet_link``), which names only the request's public handle."""

    id: str
    request_uri: str
    client_id: str = Field(description="x509_hash:<base64url SHA-256 of the verifier certificate>")
    wallet_link: str = Field(description="openid4vp://?client_id=...&request_uri=...")
    wallet_url: str = Field(description="The same, as a link to this service's web wallet")
    claims: list[str]
    purpose: str | None
    expires_at: datetime


class OAuthErrorOut(BaseModel):
    """An OAuth-shaped refusal (RFC 6749 section 5.2): what the ``/oid4vp/*`` endpoints answer wallets with."""

    error: str = Field(description="invalid_request")
    error_description: str


class PresentationRequestState(BaseModel):
    """Where a presentation request stands; ``report`` once a wallet answered."""

    id: str
    state: str = Field(description="pending, answered, refused (the citizen said no) or expired")
    claims: list[str]
    purpose: str | None
    expires_at: datetime
    report: VerificationReport | None


def _oauth(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=_NO_STORE)


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    verify: Callable[[VerifyRequest], Report],
    request_key: Callable[[], VerifierRequestKey],
    clock: Callable[[], datetime],
    public_url: str,
    qr_svg: Callable[[str], str],
    rng: pr.Rng = os.urandom,
) -> APIRouter:
    """``request_key`` gives the request-signing key, its certificate and the client id (created on first use)."""
    router = APIRouter(tags=["presentation requests"])
    db = Depends(session)

    @router.post(
        "/v1/presentation-requests",
        status_code=201,
        openapi_extra=_CREATE_BODY,
        response_model=PresentationRequestOut,
        responses=error_responses(413, PresentationClaimsInvalid, InvalidInput),
    )
    async def create(request: Request, s: Annotated[Session, db]) -> JSONResponse:
        """Ask a citizen's wallet for a presentation of ``claims`` (public, no key: any relying party may). The
        request expires in 5 minutes; its nonce is good for one answer. Show ``wallet_url`` as a QR code (``qr.svg``)
        and poll ``GET /v1/presentation-requests/{id}`` for the verdict."""
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        if set(body) - {"claims", "purpose"}:
            raise InvalidInput("unknown field; expected claims and purpose")
        claims = pr.parse_claims(body.get("claims"))
        purpose = pr.parse_purpose(body.get("purpose"))
        key = await run_in_threadpool(request_key)
        new = pr.create_request(s, claims, client_id=key.client_id, now=clock(), rng=rng, purpose=purpose)
        s.commit()
        links = pr.request_links(public_url, new.handle, new.client_id)
        out = {
            "id": new.id,
            "request_uri": links.request_uri,
            "client_id": new.client_id,
            "wallet_link": links.wallet_link,
            "wallet_url": links.wallet_url,
            "claims": new.claims,
            "purpose": new.purpose,
            "expires_at": new.expires_at.isoformat(),
        }
        return JSONResponse(out, status_code=201, headers=_NO_STORE)

    @router.get(
        "/v1/presentation-requests/{request_id}",
        response_model=PresentationRequestState,
        responses=error_responses(PresentationRequestNotFound),
    )
    def status(request_id: str, s: Annotated[Session, db]) -> JSONResponse:
        """The request's state and, once answered, the verification report (the same report as ``/v1/verify``,
        with the ``requested_claims`` check last). Poll it about once a second."""
        row = pr.get_by_id(s, request_id)
        return JSONResponse(pr.view(row, request_id, clock()), headers=_NO_STORE)

    @router.get(
        "/v1/presentation-requests/{request_id}/qr.svg",
        response_class=Response,
        responses={
            200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "The QR code"},
            **error_responses(PresentationRequestNotFound),
        },
    )
    def qr(request_id: str, s: Annotated[Session, db]) -> Response:
        """The QR code of the request's ``wallet_url``, for the wallet to scan."""
        row = pr.get_by_id(s, request_id)
        svg = qr_svg(pr.request_links(public_url, row.handle, row.client_id).wallet_url)
        return Response(svg, media_type="image/svg+xml", headers=_NO_STORE)

    @router.get(
        "/oid4vp/requests/{handle}",
        response_class=Response,
        responses={
            200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "Request object"},
            404: {"model": OAuthErrorOut, "description": "The request does not exist, has expired or was answered"},
        },
    )
    def request_object(handle: str, s: Annotated[Session, db]) -> Response:
        """The signed request object (OpenID4VP ``request_uri``): ``x5c`` certificate, ``x509_hash`` client id,
        ``direct_post`` to ``response_uri``, a fresh nonce and the DCQL query. Refused (OAuth ``invalid_request``)
        once the request expired or was answered."""
        now = clock()
        row = pr.get_by_handle(s, handle)
        if row is None or pr.state_of(row, now) != pr.PENDING:
            state = "unknown" if row is None else pr.state_of(row, now)
            what = {"expired": "has expired", "unknown": "does not exist"}.get(state, "was already answered")
            return _oauth(OAuthError("invalid_request", f"the presentation request {what}", 404))
        token = sign_request_object(request_key(), request_claims(row, public_url, now))
        return Response(token, media_type=MEDIA_TYPE, headers=_NO_STORE)

    @router.post(
        "/oid4vp/responses/{handle}",
        response_class=JSONResponse,
        responses={
            400: {
                "model": OAuthErrorOut,
                "description": "Refused: a malformed answer, or one to a request that does not exist, has expired "
                "or was answered",
            }
        },
    )
    async def response(handle: str, request: Request, s: Annotated[Session, db]) -> JSONResponse:
        """The wallet's answer (``direct_post``, form-encoded): ``vp_token`` and ``state``, or ``error`` (for example
        ``access_denied``). ``{}`` once stored; a second answer, or one to an expired request, is refused."""
        if int(request.headers.get("content-length") or 0) > _MAX_FORM:
            return _oauth(OAuthError("invalid_request", "the response is too large"))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return _oauth(OAuthError("invalid_request", "send application/x-www-form-urlencoded"))
        try:
            form = await request.form(max_files=0, max_fields=8)
        except Exception:  # starlette's parser errors on a malformed body
            return _oauth(OAuthError("invalid_request", "the form body is malformed"))
        try:
            answer = parse_response(dict(form))
            pending = open_for_answer(s, handle, answer, clock())
            if answer.error is not None:
                record(s, handle, clock(), report=None, refused=True)
            else:
                assert answer.presentation is not None
                report = await run_in_threadpool(verify_presentation, verify, pending, answer.presentation)
                record(s, handle, clock(), report=report)
            s.commit()
        except OAuthError as exc:
            return _oauth(exc)
        return JSONResponse({}, headers=_NO_STORE)

    return router
