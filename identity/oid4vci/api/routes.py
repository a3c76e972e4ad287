"""HTTP routes of the OpenID4VCI issuer: the offer for the agency (``POST /v1/citizens/{id}/offers``, our error
shape), and for wallets the metadata under ``/.well-known/`` and the offer, token, nonce and credential endpoints
under ``/oid4vci/``, which answer errors as the specs demand: ``{"error", "error_description"}``.

The OAuth-shaped routes are left out of the OpenAPI schema: their contract is the specs and the metadata documents
(docs/identity.md, "Issuing over OpenID4VCI"), and every error the schema lists is ours.

No ``from __future__ import annotations`` here: FastAPI must evaluate the dependency annotations at definition time.
"""

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from identity import service
from identity.api import status_base_url
from identity.errors import CitizenNotFound, Oid4vciError
from identity.oid4vci import metadata, offers, proof, tokens
from identity.sdjwt import Rng
from keys.agencies import Principal
from keys.api import AUTH_ERRORS, error_responses
from keys.encoding import json_loads
from keys.errors import XacthucError
from keys.limits import OID4VCI_BODY_BYTES
from keys.protocols import Signer

__all__ = ["OfferOut", "build_router"]

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_BODY = OID4VCI_BODY_BYTES


class OfferOut(BaseModel):
    id: str
    credential_offer_uri: str
    offer_uri: str
    wallet_url: str
    tx_code: str
    expires_at: datetime


def _oauth_error(exc: Oid4vciError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.error}", error_description="{exc.description}"'
    return JSONResponse(exc.to_oauth(), status_code=exc.status, headers=headers)


async def _body(request: Request) -> bytes | None:
    """The raw body, or ``None`` when it is larger than any request these endpoints take."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            return None
    return body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _form(request: Request, body: bytes | None) -> dict[str, str]:
    if body is None:
        raise Oid4vciError("invalid_request", "the request is too large")
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise Oid4vciError("invalid_request", "the token request is a form (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise Oid4vciError("invalid_request", "the form cannot be read") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise Oid4vciError("invalid_request", f"{name} is given more than once")
        form[name] = value
    return form


def _credential_request(request: Request, body: bytes | None) -> Mapping[str, Any]:
    if body is None:
        raise Oid4vciError("invalid_credential_request", "the request is too large")
    if _media_type(request) != "application/json":
        raise Oid4vciError("invalid_credential_request", "the credential request is JSON (application/json)")
    try:
        value = json_loads(body)
    except ValueError:
        raise Oid4vciError("invalid_credential_request", "the credential request is not JSON") from None
    if not isinstance(value, dict):
        raise Oid4vciError("invalid_credential_request", "the credential request is a JSON object")
    return value


def _one_proof(req: Mapping[str, Any]) -> Any:
    """The one JWT proof of a request: ``proofs.jwt[0]`` (OpenID4VCI 1.0) or the draft-15 ``proof.jwt``."""
    if "proof" in req and "proofs" in req:
        raise Oid4vciError("invalid_credential_request", "give proofs or proof, not both")
    if "proofs" in req:
        proofs = req["proofs"]
        if not isinstance(proofs, dict) or set(proofs) != {"jwt"}:
            raise Oid4vciError("invalid_proof", "proofs must hold exactly one proof type: jwt")
        jwts = proofs["jwt"]
        if not isinstance(jwts, list) or len(jwts) != 1:
            raise Oid4vciError("invalid_proof", "exactly one jwt proof: one credential per request")
        return jwts[0]
    if "proof" in req:
        single = req["proof"]
        if not isinstance(single, dict) or single.get("proof_type") != "jwt":
            raise Oid4vciError("invalid_proof", "the proof_type must be jwt")
        return single.get("jwt")
    raise Oid4vciError("invalid_proof", "a proof of possession of the holder key is required")


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    require_issue: Callable[..., Principal],
    signer_for: Callable[[str, datetime], Signer],
    issuer_jwks: Callable[[str], list[dict[str, Any]] | None],
    clock: Callable[[], datetime],
    public_url: str,
    rng: Rng = os.urandom,
    credential_ttl: timedelta = service.DEFAULT_TTL,
) -> APIRouter:
    """The OpenID4VCI routes. ``issuer_jwks(agency_id)`` gives the public keys an agency signs credentials with (from
    the trust list), or ``None`` when it is not an identity issuer. ``public_url`` (PU) is the credential issuer."""
    router = APIRouter(tags=["identity"])
    pu = public_url.rstrip("/")
    status_base = status_base_url(pu)
    db_dep = Depends(session)
    body_dep = Depends(_body)

    @router.post(
        "/v1/citizens/{citizen_id}/offers",
        status_code=201,
        response_model=OfferOut,
        responses=error_responses(*AUTH_ERRORS, CitizenNotFound),
    )
    def create_offer(
        db: Annotated[Session, db_dep], principal: Annotated[Principal, Depends(require_issue)], citizen_id: str
    ) -> OfferOut:
        """A credential offer (OpenID4VCI, pre-authorized code) for a citizen the calling agency registered: 10
        minutes, single use, with a 6-digit transaction code shown only in this answer."""
        offer = offers.create_offer(db, citizen_id, agency_id=principal.agency_id, now=clock(), rng=rng)
        db.commit()
        links = offers.offer_links(pu, offer.id)
        return OfferOut(
            id=offer.id,
            credential_offer_uri=links.credential_offer_uri,
            offer_uri=links.offer_uri,
            wallet_url=links.wallet_url,
            tx_code=offer.tx_code,
            expires_at=offer.expires_at,
        )

    @router.get("/.well-known/openid-credential-issuer", include_in_schema=False)
    def issuer_metadata() -> JSONResponse:
        return JSONResponse(metadata.credential_issuer_metadata(pu), headers={"Cache-Control": "public, max-age=300"})

    @router.get("/.well-known/oauth-authorization-server", include_in_schema=False)
    def authorization_server() -> JSONResponse:
        return JSONResponse(
            metadata.authorization_server_metadata(pu), headers={"Cache-Control": "public, max-age=300"}
        )

    @router.get("/.well-known/jwt-vc-issuer/agencies/{agency_id}", include_in_schema=False)
    def jwt_vc_issuer(agency_id: str) -> JSONResponse:
        jwks = issuer_jwks(agency_id)
        if jwks is None:
            return _oauth_error(Oid4vciError("invalid_request", "no identity issuer has this id", status=404))
        return JSONResponse(
            metadata.jwt_vc_issuer_metadata(pu, agency_id, jwks), headers={"Cache-Control": "public, max-age=60"}
        )

    @router.get("/oid4vci/offers/{offer_id}", include_in_schema=False)
    def credential_offer(db: Annotated[Session, db_dep], offer_id: str) -> JSONResponse:
        try:
            document = offers.credential_offer(db, offer_id, issuer=pu, now=clock())
        except Oid4vciError as exc:
            return _oauth_error(exc)
        return JSONResponse(document, headers=_NO_STORE)

    @router.post("/oid4vci/token", include_in_schema=False)
    def token(
        db: Annotated[Session, db_dep], request: Request, body: Annotated[bytes | None, body_dep]
    ) -> JSONResponse:
        try:
            form = _form(request, body)
            grant_type = form.get("grant_type")
            if grant_type != offers.PRE_AUTHORIZED_GRANT:
                raise Oid4vciError(
                    "unsupported_grant_type" if grant_type else "invalid_request",
                    f"only the grant {offers.PRE_AUTHORIZED_GRANT} is supported",
                )
            code = form.get("pre-authorized_code")
            if not code:
                raise Oid4vciError("invalid_request", "pre-authorized_code is required")
            issued = tokens.redeem_pre_authorized_code(db, code, form.get("tx_code"), now=clock(), rng=rng)
        except Oid4vciError as exc:
            db.commit()  # a wrong transaction code counts
            return _oauth_error(exc)
        db.commit()
        return JSONResponse(
            {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in},
            headers=_NO_STORE,
        )

    @router.post("/oid4vci/nonce", include_in_schema=False)
    def nonce(db: Annotated[Session, db_dep]) -> JSONResponse:
        c_nonce = tokens.new_nonce(db, now=clock(), rng=rng)
        db.commit()
        return JSONResponse({"c_nonce": c_nonce}, headers=_NO_STORE)

    @router.post("/oid4vci/credential", include_in_schema=False)
    def credential(
        db: Annotated[Session, db_dep], request: Request, body: Annotated[bytes | None, body_dep]
    ) -> JSONResponse:
        now = clock()
        try:
            grant = tokens.access_grant(db, _bearer(request), now=now)
            req = _credential_request(request, body)
            if "credential_identifier" in req:
                raise Oid4vciError("invalid_credential_request", "name the credential_configuration_id instead")
            config = req.get("credential_configuration_id")
            if not isinstance(config, str):
                raise Oid4vciError("invalid_credential_request", "credential_configuration_id is required")
            if config != offers.CREDENTIAL_CONFIGURATION_ID:
                raise Oid4vciError(
                    "unknown_credential_configuration", f"this issuer offers only {offers.CREDENTIAL_CONFIGURATION_ID}"
                )
            holder = proof.check_proof(_one_proof(req), audience=pu, now=now)
            if not tokens.consume_nonce(db, holder.nonce, now=now):
                raise Oid4vciError(
                    "invalid_nonce",
                    "the c_nonce is unknown, expired or already used: get a new one from the nonce endpoint",
                )
            db.commit()  # the nonce is used up whatever happens next
            credential_id, compact = service.issue_credential(
                db,
                grant.citizen_id,
                signer_for(grant.agency_id, now),
                grant.agency_id,
                holder.jwk,
                now,
                credential_ttl,
                status_base_url=status_base,
                iss=service.credential_issuer(pu, grant.agency_id),
            )
            tokens.spend_access_token(db, grant, credential_id, now=now)
        except Oid4vciError as exc:
            db.rollback()
            return _oauth_error(exc)
        except XacthucError as exc:  # the citizen is gone, the status lists are full: no credential this time
            db.rollback()
            status = 500 if exc.http_status >= 500 else 400
            error = "server_error" if status == 500 else "invalid_credential_request"
            return _oauth_error(Oid4vciError(error, exc.message, status=status))
        db.commit()
        return JSONResponse({"credentials": [{"credential": compact}]}, headers=_NO_STORE)

    return router
