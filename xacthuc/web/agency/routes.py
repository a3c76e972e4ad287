"""The agency portal's pages (``/agency``): sign-in, dashboard, issue form, document list, document page with its
print view, revoke and supersede, bulk import, the agency's audit log (managers).

Thin: each page reads through ``_queries`` or acts through ``_actions`` (the domain functions the API calls).
Every state-changing form carries the session's CSRF token; a page without a session sends the browser to sign-in.
"""

# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import functools
import inspect
import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from keys import signin_throttle as throttle
from keys.error_messages import code_message, error_dict, field_label, lang_from_accept_language
from keys.errors import Forbidden, XacthucError
from keys.staff import SignInFailed, check_password
from keys.staff_sessions import close_session, open_session
from ledger.chain.anchoring import oldest_pending_leaf
from ledger.documents.issuing import REASONS, VN_TZ
from ledger.documents.metadata import DOCUMENT_FIELDS, SIGNING_FORMS
from xacthuc import audit
from xacthuc.services import Services

from ..templates import render, request_lang
from . import _actions, _queries
from ._auth import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    Staff,
    address_of,
    check_signin_token,
    clear_session_cookie,
    current_staff,
    new_signin_token,
    set_session_cookie,
)
from ._format import NOTICE_COOKIE, pack_notices, unpack_notices, vn_time
from ._import import import_chunk
from .citizens import build_citizens_router
from .offices import build_offices_router

__all__ = ["build_agency_router"]

SIGNIN = "/agency/signin"


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def build_agency_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/agency", include_in_schema=False)
    db_dep = Depends(services.session)
    public_url = services.settings.public_url

    def page(
        request: Request, template: str, staff: Staff | None, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        return render(
            request,
            f"agency/{template}",
            status_code=status_code,
            staff=staff,
            csrf_field=CSRF_FIELD,
            public_url=public_url,
            vn_time=vn_time,
            **context,
        )

    def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
        """The route gets ``staff`` (the signed-in staff member) or the browser is sent to sign in; a typed error is
        shown as the portal's error page with its status."""

        def wrapper(request: Request, db: Session, **kwargs: Any) -> Any:
            staff = current_staff(request, db, services.clock())
            if staff is None:
                if request.method == "GET":
                    return RedirectResponse(f"{SIGNIN}?next={request.url.path}", status_code=303)
                return page(request, "error.html", None, status_code=401, error_code="SESSION_INVALID", message=None)
            try:
                return view(request, db, staff=staff, **kwargs)
            except XacthucError as exc:
                db.rollback()
                out = page(
                    request, "error.html", staff, status_code=exc.http_status, error_code=exc.code, message=exc.message
                )
                out.headers.update(exc.http_headers())
                return out

        functools.update_wrapper(wrapper, view)
        signature = inspect.signature(view)
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for name, p in signature.parameters.items() if name != "staff"]
        )
        return wrapper

    # ------------------------------------------------------------------------------------------------ sign-in
    def signin_page(
        request: Request,
        *,
        status_code: int = 200,
        error: str | None = None,
        username: str = "",
        next_url: str = "/agency",
    ) -> HTMLResponse:
        response = HTMLResponse("")
        token = new_signin_token(request, response, public_url)
        out = page(
            request,
            "signin.html",
            None,
            status_code=status_code,
            signin_token=token,
            error=error,
            username=username,
            next_url=next_url,
        )
        for value in response.headers.getlist("set-cookie"):
            out.headers.append("set-cookie", value)
        return out

    def _safe_next(value: str | None) -> str:
        return value if value and value.startswith("/agency") and "//" not in value and "\\" not in value else "/agency"

    @router.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request, db: Annotated[Session, db_dep], next: str | None = None) -> Response:
        if current_staff(request, db, services.clock()) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return signin_page(request, next_url=_safe_next(next))

    @router.post("/signin", response_class=HTMLResponse)
    def signin(
        request: Request,
        db: Annotated[Session, db_dep],
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=2048)] = "",
        signin_token: Annotated[str | None, Form(max_length=200)] = None,
        next: Annotated[str | None, Form(max_length=500)] = None,
    ) -> Response:
        next_url = _safe_next(next)
        try:
            check_signin_token(request, signin_token)
        except XacthucError as exc:
            return page(
                request, "error.html", None, status_code=exc.http_status, error_code=exc.code, message=exc.message
            )
        now, address = services.clock(), address_of(request)
        keys = throttle.throttle_keys(username, address)
        actor = f"staff:{username.strip().lower()[:64]}"
        try:
            throttle.check_signin_allowed(db, keys, now)
        except throttle.SignInThrottled as exc:
            audit.record(
                db,
                action="signin_throttled",
                actor=actor,
                now=now,
                address=address,
                detail={"retry_after": exc.retry_after},
            )
            db.commit()
            out = signin_page(
                request, status_code=429, error="agency.signin.throttled", username=username, next_url=next_url
            )
            out.headers["Retry-After"] = str(exc.retry_after)
            return out
        try:
            account = check_password(db, username, password)
        except SignInFailed:
            throttle.record_failure(db, keys, now)
            audit.record(db, action="signin_failed", actor=actor, now=now, address=address)
            db.commit()
            return signin_page(
                request, status_code=401, error="agency.signin.failed", username=username, next_url=next_url
            )
        throttle.clear_failures(db, account.username)
        opened = open_session(db, account, now, address=address, user_agent=request.headers.get("user-agent", ""))
        audit.record(
            db,
            action="signin",
            actor=f"staff:{account.username}",
            now=now,
            agency_id=account.agency_id,
            address=address,
        )
        db.commit()
        response = RedirectResponse(next_url, status_code=303)
        set_session_cookie(response, opened.token, public_url)
        return response

    @router.post("/signout")
    @signed_in
    def signout(
        request: Request, db: Annotated[Session, db_dep], staff: Staff, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        staff.check_csrf(csrf_token)
        close_session(db, request.cookies.get(COOKIE))
        audit.record(
            db,
            action="signout",
            actor=staff.actor,
            now=services.clock(),
            agency_id=staff.agency.id,
            address=address_of(request),
        )
        db.commit()
        response = RedirectResponse(SIGNIN, status_code=303)
        clear_session_cookie(response, public_url)
        return response

    # ---------------------------------------------------------------------------------------------- dashboard
    @router.get("", response_class=HTMLResponse)
    @signed_in
    def dashboard(request: Request, db: Annotated[Session, db_dep], staff: Staff) -> Response:
        now = services.clock()
        since = oldest_pending_leaf(db)
        lag = None if since is None else max(int((now - since).total_seconds()), 0)
        recent = _queries.list_documents(db, staff.agency.id, _queries.ListQuery())
        return page(
            request,
            "dashboard.html",
            staff,
            counts=_queries.status_counts(db, staff.agency.id),
            lag=lag,
            anchors=_queries.last_anchors(db, staff.agency.eth_address),
            recent=recent.views[:5],
        )

    # ---------------------------------------------------------------------------------------------- documents
    @router.get("/documents", response_class=HTMLResponse)
    @signed_in
    def documents(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        q: Annotated[str, Query(max_length=200)] = "",
        status: Annotated[str, Query(max_length=20)] = "",
        issued_from: Annotated[str, Query(alias="from", max_length=10)] = "",
        issued_to: Annotated[str, Query(alias="to", max_length=10)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
    ) -> Response:
        query = _queries.ListQuery(
            q=q,
            status=status if status in _queries.STATUSES else "",
            issued_from=_date(issued_from),
            issued_to=_date(issued_to),
            page=page_no,
        )
        listed = _queries.list_documents(db, staff.agency.id, query)
        return page(
            request,
            "documents.html",
            staff,
            listed=listed,
            query=query,
            statuses=_queries.STATUSES,
            filters={"q": q, "status": query.status, "from": issued_from, "to": issued_to},
        )

    @router.get("/documents/status.json")
    @signed_in
    def statuses(
        request: Request, db: Annotated[Session, db_dep], staff: Staff, ids: Annotated[str, Query(max_length=3000)] = ""
    ) -> Response:
        wanted = [i for i in ids.split(",") if i][:100]
        return JSONResponse(
            {"statuses": _queries.statuses_of(db, staff.agency.id, wanted)}, headers={"Cache-Control": "no-store"}
        )

    @router.get("/documents/{document_id}", response_class=HTMLResponse)
    @signed_in
    def document(request: Request, db: Annotated[Session, db_dep], staff: Staff, document_id: str) -> Response:
        view = _actions.find(db, staff, document_id)
        replaces = _queries.replaced_by_this(db, view.row.id)
        notices = unpack_notices(request.cookies.get(NOTICE_COOKIE), view.row.id)
        out = page(
            request,
            "document.html",
            staff,
            view=view,
            meta=view.row.metadata_dict,
            history=_queries.history(db, view.row.id, [r.id for r in replaces]),
            replaces=replaces,
            notices=notices,
            reasons=[r for r in REASONS if r != "replaced"],
        )
        if request.cookies.get(NOTICE_COOKIE):  # shown once
            out.delete_cookie(NOTICE_COOKIE, path="/agency", httponly=True, samesite="strict")
        return out

    @router.get("/documents/{document_id}/print", response_class=HTMLResponse)
    @signed_in
    def print_view(request: Request, db: Annotated[Session, db_dep], staff: Staff, document_id: str) -> Response:
        view = _actions.find(db, staff, document_id)
        return page(request, "print.html", staff, view=view, meta=view.row.metadata_dict)

    @router.post("/documents/{document_id}/revoke", response_class=HTMLResponse)
    @signed_in
    def revoke(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        document_id: str,
        csrf_token: Annotated[str | None, Form()] = None,
        action: Annotated[str, Form(max_length=20)] = "revoke",
        reason: Annotated[str, Form(max_length=20)] = "annulled",
        note: Annotated[str, Form(max_length=1000)] = "",
        replaced_by: Annotated[str, Form(max_length=100)] = "",
        confirmed: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        view = _actions.find(db, staff, document_id)
        supersede = action == "supersede"
        reason = "replaced" if supersede else reason
        replacement = None
        if supersede and replaced_by.strip():  # its id, or its number among the agency's documents
            replacement = _queries.find_replacement(db, staff.agency.id, replaced_by)
        replaced_by = replacement.row.id if replacement is not None else replaced_by.strip()
        if confirmed != "yes":  # the confirmation names the document (and its replacement) before anything changes
            return page(
                request,
                "confirm.html",
                staff,
                view=view,
                meta=view.row.metadata_dict,
                reason=reason,
                note=note,
                replacement=replacement,
                replaced_by=replaced_by,
                action=action,
            )
        _actions.revoke(
            services,
            db,
            staff,
            view,
            reason=reason,
            note=note,
            replaced_by=replaced_by or None,
            address=address_of(request),
        )
        db.commit()
        return RedirectResponse(f"/agency/documents/{view.row.id}", status_code=303)

    # -------------------------------------------------------------------------------------------------- issue
    @router.get("/issue", response_class=HTMLResponse)
    @signed_in
    def issue_form(request: Request, db: Annotated[Session, db_dep], staff: Staff) -> Response:
        return page(
            request,
            "issue.html",
            staff,
            # What a clerk would type every time: the agency's own name and today's date in Vietnam (both editable).
            values={
                "issuing_body": staff.agency.name,
                "issued_on": services.clock().astimezone(VN_TZ).date().isoformat(),
            },
            errors={},
            signing_forms=sorted(SIGNING_FORMS),
            agency_name=staff.agency.name,
        )

    @router.post("/issue", response_class=HTMLResponse)
    @signed_in
    def issue(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        csrf_token: Annotated[str | None, Form()] = None,
        file: Annotated[UploadFile | None, File()] = None,
        number: Annotated[str, Form()] = "",
        title: Annotated[str, Form()] = "",
        issuing_body: Annotated[str, Form()] = "",
        place: Annotated[str, Form()] = "",
        issued_on: Annotated[str, Form()] = "",
        signer_name: Annotated[str, Form()] = "",
        signer_title: Annotated[str, Form()] = "",
        signing_form: Annotated[str, Form()] = "",
    ) -> Response:
        staff.check_csrf(csrf_token)
        values = {
            "number": number,
            "title": title,
            "issuing_body": issuing_body,
            "place": place,
            "issued_on": issued_on,
            "signer_name": signer_name,
            "signer_title": signer_title,
            "signing_form": signing_form,
        }
        data = file.file.read(services.settings.upload_limit + 1) if file is not None else b""
        errors: dict[str, dict[str, str]] = {}
        if not data or file is None:
            label = field_label("file", request_lang(request))
            message = code_message("DOC_FIELD_MISSING", request_lang(request), label=label)
            errors["file"] = {"code": "DOC_FIELD_MISSING", "field": "file", "message": message}
        elif len(data) > services.settings.upload_limit:
            message = code_message("DOC_FILE_TOO_LARGE", request_lang(request))
            errors["file"] = {"code": "DOC_FILE_TOO_LARGE", "field": "file", "message": message}
        if not errors and file is not None:
            try:
                issued = _actions.issue(
                    services,
                    db,
                    staff,
                    fields=values,
                    data=data,
                    filename=file.filename,
                    media_type=file.content_type,
                    address=address_of(request),
                )
                db.commit()
                done = RedirectResponse(f"/agency/documents/{issued.id}", status_code=303)
                if issued.notices:  # QD read as QĐ, the same number and file answered as the existing document
                    done.set_cookie(
                        NOTICE_COOKIE,
                        pack_notices(issued.id, list(issued.notices)),
                        max_age=300,
                        path="/agency",
                        httponly=True,
                        samesite="strict",
                        secure=public_url.startswith("https://"),
                    )
                return done
            except Forbidden:
                raise
            except XacthucError as exc:
                db.rollback()
                field = getattr(exc, "field", None)
                errors[field if isinstance(field, str) else "form"] = error_dict(exc, request_lang(request))
        return page(
            request,
            "issue.html",
            staff,
            status_code=422,
            values=values,
            errors=errors,
            signing_forms=sorted(SIGNING_FORMS),
            agency_name=staff.agency.name,
        )

    @router.post("/issue/check")
    @signed_in
    def check(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        fields: Annotated[str, Form(max_length=20000)] = "{}",
    ) -> Response:
        """The issue form's fields checked as the user types: each field's API error (code and message)."""
        staff.check_csrf(request.headers.get(CSRF_HEADER))
        try:
            given = json.loads(fields)
        except ValueError:
            given = {}
        given = {k: v for k, v in given.items() if k in DOCUMENT_FIELDS} if isinstance(given, dict) else {}
        today = services.clock().astimezone(VN_TZ).date()  # as issuing judges a date in the future
        lang = lang_from_accept_language(request.headers.get("accept-language"))  # the page's, sent by issue.js
        return JSONResponse({"errors": _actions.field_errors(given, today, lang)})

    # ------------------------------------------------------------------------------------------------- import
    @router.get("/import", response_class=HTMLResponse)
    @signed_in
    def import_form(request: Request, db: Annotated[Session, db_dep], staff: Staff) -> Response:
        return page(request, "import.html", staff)

    @router.post("/import/chunk")
    @signed_in
    def import_rows(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        rows: Annotated[str, Form(max_length=2_000_000)] = "[]",
        files: Annotated[list[UploadFile] | None, File()] = None,
    ) -> Response:
        """One chunk of a bulk import (the page sends the CSV's rows a chunk at a time, with their files)."""
        staff.check_csrf(request.headers.get(CSRF_HEADER))
        body, status_code = import_chunk(
            services,
            db,
            staff,
            rows,
            files or [],
            address=address_of(request),
            limit=services.settings.upload_limit,
            lang=lang_from_accept_language(request.headers.get("accept-language")),  # the page's, sent by import.js
        )
        return JSONResponse(body, status_code=status_code)

    # -------------------------------------------------------------------------------------------------- audit
    @router.get("/audit", response_class=HTMLResponse)
    @signed_in
    def audit_page(
        request: Request,
        db: Annotated[Session, db_dep],
        staff: Staff,
        before: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        if staff.account.role != "manager":
            raise Forbidden("only a manager reads the agency's audit log")
        entries = audit.read_audit(db, audit.AuditQuery(agency_id=staff.agency.id, before=before, limit=50))
        return page(
            request, "audit.html", staff, entries=entries, next_before=entries[-1].id if len(entries) == 50 else None
        )

    router.include_router(build_citizens_router(services, page=page, signed_in=signed_in))  # identity agencies
    router.include_router(build_offices_router(services, page=page, signed_in=signed_in))  # who may sign
    return router
