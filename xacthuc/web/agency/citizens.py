"""The portal's citizens pages (``/agency/citizens``), for staff of an identity agency (role ``identity:issue``):
the agency's own citizens (searched by name, the CCCD number masked to its last 4 digits), a register form checked
by ``identity.cccd.parse_citizen`` with its messages in the page's language, and on each citizen a wallet offer
(``identity.oid4vci.offers.create_offer``): the QR of its ``/wallet`` link, the link, and the 6-digit transaction
code shown once, for the clerk to say aloud.

Every act is audited (``citizen_registered``, ``credential_offer_created``) in the same transaction, with ids only:
never the name, the CCCD number or the transaction code. Staff of other agencies get 403 on every route.
"""

# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import base64
import math
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from identity import service
from identity.cccd import SEXES, parse_citizen
from identity.errors import CitizenExists
from identity.models import Citizen
from identity.oid4vci.offers import create_offer, offer_links
from keys.agencies import require_role
from keys.error_messages import error_dict
from keys.errors import XacthucError
from keys.validity import stored_utc
from verifier.qr import qr_svg
from xacthuc import audit
from xacthuc.services import Services

from ..templates import request_lang
from ._auth import Staff, address_of

__all__ = ["FIELDS", "PAGE_SIZE", "ROLE", "CitizenRow", "build_citizens_router", "field_errors", "mask_cccd"]

ROLE = "identity:issue"
PAGE_SIZE = 50
# The register form's fields: those of POST /v1/citizens, in the order a clerk reads them off the ID card.
FIELDS = ("cccd", "full_name", "birth_date", "sex", "nationality", "place_of_origin", "place_of_residence")


# A valid citizen, to check each text field on its own against the others' being right (so the form names every
# wrong field at once, not only the first that parse_citizen meets).
_SAMPLE = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "nationality": "VN",
    "place_of_origin": "Long An",
    "place_of_residence": "Thành phố Hồ Chí Minh",
}
_TEXT_FIELDS = ("full_name", "nationality", "place_of_origin", "place_of_residence")


def field_errors(values: dict[str, str], now: datetime, lang: str) -> dict[str, dict[str, str]]:
    """Each wrong field's error (``code``, ``message`` in ``lang``, ``field``) as ``parse_citizen`` says it: the
    text fields one at a time, then all together (the number against the birth date and sex)."""
    errors: dict[str, dict[str, str]] = {}
    for name in _TEXT_FIELDS:
        try:
            parse_citizen({**_SAMPLE, name: values.get(name, "")}, now=now)
        except XacthucError as exc:
            errors[name] = error_dict(exc, lang)
    try:
        parse_citizen(values, now=now)
    except XacthucError as exc:
        field = getattr(exc, "field", None)
        key = field if isinstance(field, str) and field in FIELDS else "form"
        errors.setdefault(key, error_dict(exc, lang))
    return errors


def mask_cccd(cccd: str) -> str:
    """``••••••••1234``: only the last 4 digits of the number are ever shown in the portal."""
    return "•" * max(len(cccd) - 4, 0) + cccd[-4:]


@dataclass(frozen=True)
class CitizenRow:
    """What the list shows of a citizen: never the whole number."""

    id: str
    full_name: str
    birth_date: str
    sex: str
    cccd_masked: str
    nationality: str
    place_of_origin: str
    place_of_residence: str
    created_at: datetime

    @classmethod
    def of(cls, citizen: Citizen) -> "CitizenRow":
        return cls(
            id=citizen.id,
            full_name=citizen.full_name,
            birth_date=citizen.birth_date.isoformat(),
            sex=citizen.sex,
            cccd_masked=mask_cccd(citizen.cccd),
            nationality=citizen.nationality,
            place_of_origin=citizen.place_of_origin,
            place_of_residence=citizen.place_of_residence,
            created_at=citizen.created_at,
        )


@dataclass(frozen=True)
class Listed:
    rows: list[CitizenRow]
    total: int
    page: int
    pages: int


def _list_citizens(db: Session, agency_id: str, q: str, page: int) -> Listed:
    """The agency's own citizens, newest first, whose name contains ``q`` (case-insensitive)."""
    where = [col(Citizen.agency_id) == agency_id]
    q = unicodedata.normalize("NFC", q.strip())
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(col(Citizen.full_name).ilike(f"%{escaped}%", escape="\\"))
    total = db.exec(select(func.count()).select_from(Citizen).where(*where)).one()
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    page = min(page, pages)
    found = db.exec(
        select(Citizen)
        .where(*where)
        .order_by(col(Citizen.created_at).desc(), col(Citizen.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return Listed([CitizenRow.of(c) for c in found], int(total), page, pages)


def _qr_data_uri(text: str) -> str:
    svg = qr_svg(text, scale=6)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def build_citizens_router(
    services: Services,
    *,
    page: Callable[..., HTMLResponse],
    signed_in: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> APIRouter:
    """The citizens routes, under the portal's router (``page`` renders a portal template, ``signed_in`` gives a
    route its staff member or sends the browser to sign in: both from ``routes.build_agency_router``)."""
    router = APIRouter(prefix="/citizens")
    db_dep = Depends(services.session)
    public_url = services.settings.public_url

    def allowed(staff: Staff) -> None:
        require_role(staff.principal, ROLE)  # 403 FORBIDDEN for an agency that does not issue digital IDs

    def form_page(
        request: Request, staff: Staff, values: dict[str, str], errors: dict[str, dict[str, str]], status: int = 200
    ) -> HTMLResponse:
        return page(
            request,
            "citizen_new.html",
            staff,
            status_code=status,
            values=values,
            errors=errors,
            fields=FIELDS,
            sexes=SEXES,
        )

    @router.get("", response_class=HTMLResponse)
    @signed_in
    def citizens(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        q: Annotated[str, Query(max_length=200)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
    ) -> Response:
        allowed(staff)
        listed = _list_citizens(db, staff.agency.id, q, page_no)
        return page(request, "citizens.html", staff, listed=listed, q=q)

    @router.get("/new", response_class=HTMLResponse)
    @signed_in
    def new_form(request: Request, db: Annotated[Session, db_dep], staff: Staff) -> Response:
        allowed(staff)
        return form_page(request, staff, {"nationality": "VN"}, {})

    @router.post("/new", response_class=HTMLResponse)
    @signed_in
    def register(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        cccd: Annotated[str, Form(max_length=50)] = "",
        full_name: Annotated[str, Form(max_length=1000)] = "",
        birth_date: Annotated[str, Form(max_length=50)] = "",
        sex: Annotated[str, Form(max_length=20)] = "",
        nationality: Annotated[str, Form(max_length=20)] = "VN",
        place_of_origin: Annotated[str, Form(max_length=1000)] = "",
        place_of_residence: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        allowed(staff)
        values = {
            "cccd": cccd.strip(),
            "full_name": full_name,
            "birth_date": birth_date,
            "sex": sex,
            "nationality": nationality.strip() or "VN",
            "place_of_origin": place_of_origin,
            "place_of_residence": place_of_residence,
        }
        lang = request_lang(request)
        now = services.clock()
        errors = field_errors(values, now, lang)
        if errors:
            return form_page(request, staff, values, errors, status=422)
        try:
            citizen = service.register_citizen(db, parse_citizen(values, now=now), now, agency_id=staff.agency.id)
            audit.record(
                db,
                action="citizen_registered",
                actor=staff.actor,
                now=now,
                agency_id=staff.agency.id,
                address=address_of(request),
                detail={"citizen_id": citizen.id},
            )
            db.commit()
        except XacthucError as exc:
            db.rollback()
            key = "cccd" if isinstance(exc, CitizenExists) else "form"  # this agency registered the number before
            return form_page(request, staff, values, {key: error_dict(exc, lang)}, status=exc.http_status)
        return RedirectResponse(f"/agency/citizens/{citizen.id}", status_code=303)

    @router.get("/{citizen_id}", response_class=HTMLResponse)
    @signed_in
    def citizen_page(request: Request, db: Annotated[Session, db_dep], staff: Staff, citizen_id: str) -> Response:
        allowed(staff)
        citizen = service.get_citizen(db, citizen_id, agency_id=staff.agency.id)
        return page(request, "citizen.html", staff, citizen=CitizenRow.of(citizen))

    @router.post("/{citizen_id}/offers", response_class=HTMLResponse)
    @signed_in
    def offer(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        citizen_id: str,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """A wallet offer for the citizen, shown once: the transaction code is not stored in clear anywhere, so
        this answer is the only place it appears (``no-store``, never a redirect to a page that shows it)."""
        staff.check_csrf(csrf_token)
        allowed(staff)
        citizen = service.get_citizen(db, citizen_id, agency_id=staff.agency.id)
        now = services.clock()
        new = create_offer(db, citizen.id, agency_id=staff.agency.id, now=now, rng=os.urandom)
        links = offer_links(public_url, new.id)
        expires_at = stored_utc(new.expires_at)
        audit.record(
            db,
            action="credential_offer_created",
            actor=staff.actor,
            now=now,
            agency_id=staff.agency.id,
            address=address_of(request),
            detail={"offer_id": new.id, "citizen_id": citizen.id, "expires_at": expires_at.isoformat()},
        )
        db.commit()
        seconds_left = max(int((expires_at - stored_utc(now)).total_seconds()), 0)
        return page(
            request,
            "citizen_offer.html",
            staff,
            citizen=CitizenRow.of(citizen),
            offer_id=new.id,
            tx_code=new.tx_code,
            wallet_url=links.wallet_url,
            offer_uri=links.offer_uri,
            qr=_qr_data_uri(links.wallet_url),
            expires_at=expires_at,
            seconds_left=seconds_left,
        )

    return router
