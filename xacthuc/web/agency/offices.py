"""The portal's register of offices and delegations (``/agency/offices``), for agencies that issue documents: the
register as it stands (each office and delegation with the state of the entry that made it: pending until anchored,
then its block and time), and, for the agency's managers, the four changes ``ledger.offices`` writes (appoint, end an
office, delegate, revoke a delegation), each a signed entry queued for anchoring like a document.

Who may change it: a ``manager``. Over HTTP the register is written with the agency's ``admin`` key, never with the
key that issues documents; the portal's staff never hold ``admin`` (``keys.staff.staff_principal``), so the portal's
own line is the same one at the level of people: a clerk types signature blocks and issues, a manager (lãnh đạo)
appoints and delegates. Clerks see the register read-only (who may sign is public at ``GET
/v1/agencies/{id}/offices`` anyway) and get 403 on every change, with or without a CSRF token.

Every change is audited (``office_added``, ``office_ended``, ``delegation_added``, ``delegation_revoked``) in the same
transaction, with ids only (the entry's ``seq`` and the office or delegation id): the names are in the register.
"""

# no `from __future__ import annotations`: FastAPI evaluates the route signatures

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from keys.agencies import require_role
from keys.error_messages import error_dict, field_label
from keys.errors import Forbidden, XacthucError
from ledger.documents.receipt import Registry
from ledger.offices.entries import KINDS
from ledger.offices.errors import OfficeFieldInvalid
from ledger.offices.register import (
    StoredEntry,
    Writer,
    add_delegation,
    add_office,
    end_office,
    entries_of,
    revoke_delegation,
)
from ledger.offices.rules import DELEGATION_FORMS, Delegation, Office, fold
from xacthuc import audit
from xacthuc.services import Services

from ..i18n import Translator
from ..templates import request_lang
from ._auth import Staff, address_of

__all__ = ["FORMS", "ROLE", "WRITER_ROLE", "EntryState", "build_offices_router", "said"]

ROLE = "documents:issue"  # an agency that issues documents keeps the register (its key signs the entries)
WRITER_ROLE = "manager"
FORMS = ("office", "end", "delegation", "revoke")
_AUDIT = {
    "office.add": "office_added",
    "office.end": "office_ended",
    "delegation.add": "delegation_added",
    "delegation.revoke": "delegation_revoked",
}
assert set(_AUDIT) == set(KINDS)

# F's reasons (``ledger.offices.entries``) that the error catalogue's general sentence would only call "invalid":
# said on this page in its own words (``agency.offices.reason.*``), in both languages.
_REASONS = {
    "is required (YYYY-MM-DD)": "date_required",
    "is before from": "until_before_from",
    "must be TL. or TUQ.": "form",
    "a TUQ. delegation names the document that authorises it": "tuq_number",
    "a deputy's office is not the head's": "deputy_head",
    "only the head's office signs TM. for a collective body": "collective_head",
}


def said(exc: XacthucError, t: Translator) -> dict[str, str]:
    """``exc`` as the page shows it (``code``, ``message`` in the page's language, ``field``): a reason of the register
    this page words itself, else the error catalogue's sentence with the field named as this page names it (the
    catalogue's ``title`` is a document's trích yếu; here it is an office's chức danh)."""
    out = error_dict(exc, t.lang)
    field = getattr(exc, "field", None)
    if not isinstance(exc, OfficeFieldInvalid) or not isinstance(field, str):
        return out
    label = t(f"agency.offices.field.{field}") if f"agency.offices.field.{field}" in t.messages else field
    rest = exc.message.removeprefix(f"{field}: ")
    if rest in _REASONS:
        out["message"] = t(f"agency.offices.reason.{_REASONS[rest]}", label=label)
    elif t.lang == "vi":
        out["message"] = out["message"].replace(field_label(field, "vi"), label, 1)
    return out


@dataclass(frozen=True)
class EntryState:
    """An entry as the page tells it: pending, or anchored in a block at a time."""

    seq: int
    kind: str
    anchored: bool
    block: int | None
    anchored_at: datetime | None
    tx: str | None

    @classmethod
    def of(cls, entry: StoredEntry) -> "EntryState":
        proof = entry.proof
        return cls(
            entry.seq,
            entry.kind,
            entry.anchored,
            None if proof is None else proof.block,
            None if proof is None else proof.anchored_at,
            None if proof is None else proof.tx_hash,
        )


@dataclass(frozen=True)
class RegisterView:
    offices: list[Office]
    delegations: list[Delegation]
    entries: dict[int, EntryState]

    def office(self, office_id: str | None) -> Office | None:
        return next((o for o in self.offices if o.id == office_id), None)


def _register(db: Session, agency_id: str) -> RegisterView:
    stored = entries_of(db, agency_id)
    folded = fold(e.body for e in stored)
    return RegisterView(
        list(folded.offices.values()),
        list(folded.delegations.values()),
        {e.seq: EntryState.of(e) for e in stored},
    )


def build_offices_router(
    services: Services,
    *,
    page: Callable[..., HTMLResponse],
    signed_in: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> APIRouter:
    """The register's routes, under the portal's router (``page`` and ``signed_in`` from
    ``routes.build_agency_router``, as for the citizens pages)."""
    router = APIRouter(prefix="/offices")
    db_dep = Depends(services.session)

    def allowed(staff: Staff, *, write: bool = False) -> None:
        require_role(staff.principal, ROLE)  # 403 for an agency that issues no documents
        if write and staff.account.role != WRITER_ROLE:
            raise Forbidden("only a manager changes the agency's register of offices and delegations", role="admin")

    def register_page(
        request: Request,
        db: Session,
        staff: Staff,
        *,
        values: dict[str, dict[str, str]] | None = None,
        errors: dict[str, dict[str, dict[str, str]]] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        return page(
            request,
            "offices.html",
            staff,
            status_code=status,
            register=_register(db, staff.agency.id),
            can_write=staff.account.role == WRITER_ROLE,
            values=values or {},
            errors=errors or {},
            delegation_forms=DELEGATION_FORMS,
        )

    def write(
        request: Request,
        db: Session,
        staff: Staff,
        form: str,
        values: dict[str, str],
        act: Callable[[Session, Writer, datetime], StoredEntry],
    ) -> Response:
        """Sign and queue one entry, audit it, commit, and go back to the register; a refused change is shown on
        the form that made it, in the page's language, with what was typed."""
        allowed(staff, write=True)
        now = services.clock()
        agency = staff.agency.id
        city = services.require_city()
        client = services.registry()
        registry = Registry.of(client.chain_id, client.address)
        writer = Writer(agency, city.keyring(agency).signer(now), city.eth_address(agency), registry)
        try:
            entry = act(db, writer, now)
        except XacthucError as exc:
            if isinstance(exc, Forbidden):
                raise
            db.rollback()
            error = said(exc, Translator(request_lang(request)))
            field = error.get("field") or "form"
            return register_page(
                request, db, staff, values={form: values}, errors={form: {field: error}}, status=exc.http_status
            )
        data = entry.body["data"]
        detail: dict[str, Any] = {"entry": entry.seq, "leaf": entry.leaf.hex()}
        if entry.kind == "office.add":
            detail["office"] = f"o{entry.seq}"
        elif entry.kind == "office.end":
            detail["office"] = data["office"]
        elif entry.kind == "delegation.add":
            detail["delegation"] = f"d{entry.seq}"
        else:
            detail["delegation"] = data["delegation"]
        audit.record(
            db,
            action=_AUDIT[entry.kind],
            actor=staff.actor,
            now=now,
            agency_id=agency,
            address=address_of(request),
            detail=detail,
        )
        db.commit()
        return RedirectResponse(f"/agency/offices#entry-{entry.seq}", status_code=303)

    @router.get("", response_class=HTMLResponse)
    @signed_in
    def offices(request: Request, db: Annotated[Session, db_dep], staff: Staff) -> Response:
        allowed(staff)
        return register_page(request, db, staff)

    @router.post("", response_class=HTMLResponse)
    @signed_in
    def appoint(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        title: Annotated[str, Form(max_length=1000)] = "",
        holder: Annotated[str, Form(max_length=1000)] = "",
        start: Annotated[str, Form(alias="from", max_length=20)] = "",
        until: Annotated[str, Form(max_length=20)] = "",
        kind: Annotated[str, Form(max_length=20)] = "",
        deputy_of: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        allowed(staff, write=True)
        # one choice of what kind of office it is: the form's radio buttons (the domain refuses the combinations)
        values = {"title": title, "holder": holder, "from": start, "until": until, "kind": kind, "deputy_of": deputy_of}
        fields: dict[str, object] = {
            "title": title,
            "holder": holder,
            "from": start.strip(),
            "until": until.strip() or None,
            "head": kind in ("head", "collective"),
            "collective": kind == "collective",
            "acting": kind == "acting",
            "deputy_of": (deputy_of.strip() or None) if kind == "deputy" else None,
        }
        if kind == "deputy" and not deputy_of.strip():  # "required", not silently a substantive office
            error = said(OfficeFieldInvalid("deputy_of", "is required"), Translator(request_lang(request)))
            return register_page(
                request, db, staff, values={"office": values}, errors={"office": {"deputy_of": error}}, status=422
            )
        return write(request, db, staff, "office", values, lambda s, w, now: add_office(s, w, fields, now))

    @router.post("/end", response_class=HTMLResponse)
    @signed_in
    def end(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        office: Annotated[str, Form(max_length=20)] = "",
        until: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        allowed(staff, write=True)
        values = {"office": office, "until": until}
        return write(request, db, staff, "end", values, lambda s, w, now: end_office(s, w, office, until.strip(), now))

    @router.post("/delegations", response_class=HTMLResponse)
    @signed_in
    def delegate(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        form: Annotated[str, Form(max_length=10)] = "",
        delegate: Annotated[str, Form(max_length=1000)] = "",
        delegate_title: Annotated[str, Form(max_length=1000)] = "",
        for_office: Annotated[str, Form(max_length=20)] = "",
        document_types: Annotated[str, Form(max_length=500)] = "",
        start: Annotated[str, Form(alias="from", max_length=20)] = "",
        until: Annotated[str, Form(max_length=20)] = "",
        authorising_number: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        allowed(staff, write=True)
        values = {
            "form": form,
            "delegate": delegate,
            "delegate_title": delegate_title,
            "for_office": for_office,
            "document_types": document_types,
            "from": start,
            "until": until,
            "authorising_number": authorising_number,
        }
        fields: dict[str, object] = {
            **values,
            "for_office": for_office.strip() or None,
            "from": start.strip(),
            "until": until.strip() or None,
            "authorising_number": authorising_number.strip() or None,
        }
        return write(request, db, staff, "delegation", values, lambda s, w, now: add_delegation(s, w, fields, now))

    @router.post("/delegations/revoke", response_class=HTMLResponse)
    @signed_in
    def revoke(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        delegation: Annotated[str, Form(max_length=20)] = "",
        start: Annotated[str, Form(alias="from", max_length=20)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        allowed(staff, write=True)
        values = {"delegation": delegation, "from": start}
        return write(
            request,
            db,
            staff,
            "revoke",
            values,
            lambda s, w, now: revoke_delegation(s, w, delegation, start.strip(), now),
        )

    return router
