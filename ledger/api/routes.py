"""Thin HTTP layer over ledger.documents.issuing: parse, call the domain function, commit, map the result.

Reading a document (``GET /v1/documents/{id}``, its QR codes and bundle) needs no API key: the id is 128 bits (80
of them random) printed on the paper itself, and what these answer is what the paper and its QR code already show.
Issuing and revoking need ``documents:issue`` / ``documents:revoke``, and only the issuing agency may revoke.
"""
# no `from __future__ import annotations`: FastAPI must see the closure-local dependencies in the signatures

import base64
import binascii
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, File, Form, Header, Query, Request, Response, UploadFile
from pydantic import WithJsonSchema
from sqlmodel import Session

from keys.agencies import Principal
from keys.api import AUTH_ERRORS, error_responses
from keys.errors import InvalidInput
from keys.limits import DOCUMENT_BATCH
from keys.protocols import Signer
from ledger.api.schema import (
    BatchIssuedOut,
    BundleOut,
    DocumentOut,
    IssuedOut,
    RevokeIn,
    batch_schema,
    signing_form_schema,
)
from ledger.documents.errors import (
    DocumentFieldInvalid,
    DocumentFieldMissing,
    DocumentNumberInvalid,
    DocumentSymbolUnknown,
)
from ledger.documents.idempotency import (
    HEADER,
    KEY_TTL,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    StoredAnswer,
    once,
    request_sha256,
)
from ledger.documents.issuing import (
    MAX_FILE_BYTES,
    DocumentFileTooLarge,
    DocumentNotFound,
    DocumentPendingAnchor,
    DocumentRevoked,
    IssuedDocument,
    ReplacementInvalid,
    issue_batch,
    issue_document,
)
from ledger.documents.numbering import DocumentNumberDuplicate, DocumentNumberTaken
from ledger.documents.receipt import Registry, verify_link
from ledger.documents.replacement import REPLACEMENT_ERRORS
from ledger.documents.revocation import revoke_document
from ledger.documents.status import DocumentView, build_bundle, document_json, get_document
from ledger.errors import ChainUnavailable
from ledger.offices.register import bundle_section as offices_bundle_section

MAX_BATCH = DOCUMENT_BATCH
_QR_PNG = {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}, "description": "The QR code"}
_QR_SVG = {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "The QR code (SVG)"}

# What the routes answer besides their own JSON: every body is ``ErrorResponse`` (keys.api.schema).
_ISSUE_ERRORS = error_responses(
    *AUTH_ERRORS,
    DocumentFileTooLarge,
    413,
    DocumentFieldMissing,
    DocumentFieldInvalid,
    DocumentNumberInvalid,
    DocumentSymbolUnknown,
    DocumentNumberDuplicate,
    IdempotencyKeyInvalid,
    DocumentNumberTaken,
    IdempotencyKeyReused,
    ChainUnavailable,
)
_KEY_HEADER = Header(
    alias=HEADER,
    description=f"Makes a retry safe: the same key (per agency, kept {KEY_TTL.total_seconds() / 3600:g} hours) with the"
    " same request answers the first answer again (header `Idempotent-Replayed: true`), never a second document;"
    " with another request, 409 `IDEMPOTENCY_KEY_REUSED`. 1 to 255 visible ASCII characters: a UUID is a good key.",
)
_READ_ERRORS = error_responses(DocumentNotFound)
_REVOKE_ERRORS = error_responses(
    *AUTH_ERRORS,
    DocumentNotFound,
    DocumentRevoked,
    DocumentPendingAnchor,
    413,
    ReplacementInvalid,
    *REPLACEMENT_ERRORS,
)


class AuditHook(Protocol):
    """Records one act on a document in the caller's transaction (the composition root's audit log: ledger/ knows
    nothing of it). ``action`` is ``document_issued``, ``document_revoked`` or ``document_superseded``."""

    def __call__(
        self,
        db: Session,
        *,
        action: str,
        principal: Principal,
        address: str,
        document_id: str,
        detail: dict[str, Any],
    ) -> None: ...


def _no_audit(
    db: Session, *, action: str, principal: Principal, address: str, document_id: str, detail: dict[str, Any]
) -> None:
    del db, action, principal, address, document_id, detail


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def _read_upload(upload: UploadFile, limit: int) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise DocumentFileTooLarge(f"the file exceeds the {limit} byte limit")
    return data


def build_router(
    *,
    session: Callable[[], Iterator[Session]],
    require_issue: Callable[..., Principal],
    require_revoke: Callable[..., Principal],
    signer_for: Callable[[str, datetime], Signer],
    address_for: Callable[[str], str],
    registry: Callable[[], Registry],
    trust_list: Callable[[], tuple[str, str]],
    clock: Callable[[], datetime],
    public_url: str,
    qr_png: Callable[..., bytes],
    qr_svg: Callable[..., str],
    file_limit: int = MAX_FILE_BYTES,
    revoke_wait: float = 0.0,
    after_revocation: Callable[[], None] = lambda: None,
    audit: AuditHook = _no_audit,
) -> APIRouter:
    """The document routes. ``signer_for(agency, now)`` and ``address_for(agency)`` give an agency's receipt signer
    and Ethereum address (the record's owner; its key is not unlocked here); ``registry()`` the configured
    registry; ``trust_list()`` ``(token, root kid)``;
    ``qr_png(text, scale=)`` and ``qr_svg(text, scale=)`` render a link as a QR code (the verifier's renderer:
    ledger/ does not import verifier/). A revocation waits up to ``revoke_wait`` seconds for the worker (in this
    process or another) to confirm it on chain; once it is, ``after_revocation()`` brings what verifications read (the
    chain index) up to date, so this server's verdict agrees with its answer at once. ``audit`` records each document
    issued (not one answered as issued before), revoked or superseded, in the same transaction."""
    router = APIRouter(tags=["documents"])
    db_dep = Depends(session)
    base = public_url.rstrip("/")

    def _issued(db: Session, issued: IssuedDocument) -> dict[str, Any]:
        return {
            "id": issued.id,
            "sha256": issued.sha256,
            "status": issued.status if issued.status is not None else get_document(db, issued.id).status,
            "existing": issued.existing,
            "notices": [n.to_dict() for n in issued.notices],
            "receipt": issued.receipt,
            "verify_url": issued.verify_url,
            "qr_url": f"{base}/v1/documents/{issued.id}/qr.png",
            "metadata": issued.metadata,
        }

    def _audit_issued(db: Session, principal: Principal, request: Request, issued: list[IssuedDocument]) -> None:
        for doc in issued:
            if not doc.existing:
                audit(
                    db,
                    action="document_issued",
                    principal=principal,
                    address=_address(request),
                    document_id=doc.id,
                    detail={"number": doc.metadata.get("number"), "sha256": doc.sha256},
                )

    def _answer(
        db: Session,
        agency: str,
        key: str | None,
        request: Callable[[], str],
        run: Callable[[], tuple[int, dict[str, Any]]],
        response: Response,
    ) -> dict[str, Any]:
        """Run an issuing request and commit: with an idempotency key, once per key (``ledger.documents.idempotency``).
        A number that a concurrent request took after the check (holder unknown) is tried once more in a new
        transaction, which names the holder, or answers its document when it is the same request."""
        answer: StoredAnswer | None = None
        for attempt in (1, 2):
            try:
                if key is None:
                    answer = StoredAnswer(*run())
                else:
                    answer = once(db, agency_id=agency, key=key, request=request(), now=clock(), run=run)
                db.commit()
                break
            except DocumentNumberTaken as exc:
                db.rollback()
                if exc.document_id is not None or attempt == 2:
                    raise
        assert answer is not None
        response.status_code = answer.status_code
        if answer.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return answer.body

    @router.post(
        "/v1/documents",
        status_code=201,
        response_model=None,
        responses={
            201: {"model": IssuedOut, "description": "Issued"},
            200: {"model": IssuedOut, "description": "Issued before: the same number and file (`existing`)"},
            **_ISSUE_ERRORS,
        },
    )
    def issue(
        principal: Annotated[Principal, Depends(require_issue)],
        db: Annotated[Session, db_dep],
        request: Request,
        response: Response,
        idempotency_key: Annotated[str | None, _KEY_HEADER] = None,
        file: Annotated[UploadFile | None, File(description="The document file (PDF or any)")] = None,
        number: Annotated[str | None, Form(description="Number and symbol, e.g. 2392/QĐ-UBND")] = None,
        title: Annotated[str | None, Form(description="Trích yếu")] = None,
        issuing_body: Annotated[str | None, Form()] = None,
        place: Annotated[str | None, Form()] = None,
        issued_on: Annotated[str | None, Form(description="YYYY-MM-DD")] = None,
        signer_name: Annotated[str | None, Form()] = None,
        signer_title: Annotated[str | None, Form()] = None,
        signing_form: Annotated[
            str | None,
            WithJsonSchema(signing_form_schema()),
            Form(description="TM., KT., TL., TUQ. or Q. (any case, the dot optional); none: the head signs"),
        ] = None,
    ) -> dict[str, Any]:
        """Issue a document: hash, sign a receipt, store, queue for anchoring; durable before this answers.

        The number must be free for the agency in the year of `issued_on` (409 `DOC_NUMBER_TAKEN` names the document
        holding it); the same number with the same file answers that document (200, `existing`)."""
        if file is None:
            raise InvalidInput("file: is required")
        data = _read_upload(file, file_limit)
        fields = {
            "number": number,
            "title": title,
            "issuing_body": issuing_body,
            "place": place,
            "issued_on": issued_on,
            "signer_name": signer_name,
            "signer_title": signer_title,
            "signing_form": signing_form,
        }
        agency = principal.agency_id

        def run() -> tuple[int, dict[str, Any]]:
            now = clock()
            issued = issue_document(
                db,
                agency_id=agency,
                signer=signer_for(agency, now),
                account_address=address_for(agency),
                registry=registry(),
                fields=fields,
                file_bytes=data,
                now=now,
                public_url=base,
                filename=file.filename,
                media_type=file.content_type,
            )
            _audit_issued(db, principal, request, [issued])
            return (200 if issued.existing else 201), _issued(db, issued)

        def request_hash() -> str:
            return request_sha256("POST /v1/documents", fields, file.filename or "", file.content_type or "", data)

        return _answer(db, agency, idempotency_key, request_hash, run, response)

    @router.post(
        "/v1/documents:batch",
        status_code=201,
        response_model=None,
        responses={
            201: {"model": BatchIssuedOut, "description": "Issued, all of them (some may be `existing`)"},
            200: {"model": BatchIssuedOut, "description": "Every one issued before: the same numbers and files"},
            **_ISSUE_ERRORS,
        },
    )
    def issue_many(
        principal: Annotated[Principal, Depends(require_issue)],
        db: Annotated[Session, db_dep],
        request: Request,
        response: Response,
        body: Annotated[
            Any,
            WithJsonSchema(batch_schema(MAX_BATCH)),
            Body(description=f"At most {MAX_BATCH} documents, issued all or none"),
        ],
        idempotency_key: Annotated[str | None, _KEY_HEADER] = None,
    ) -> dict[str, Any]:
        """Issue many documents in one transaction (an agency's archive), all or none. A number the agency holds
        with another file (409 `DOC_NUMBER_TAKEN`) or twice in the batch (422 `DOC_NUMBER_DUPLICATE`) is refused
        naming the item; one it holds with the same file answers that document in the item's place (`existing`)."""
        docs = body.get("documents") if isinstance(body, dict) else None
        if not isinstance(docs, list) or not docs or len(docs) > MAX_BATCH:
            raise InvalidInput(f"documents: must be a list of 1 to {MAX_BATCH} objects")
        items: list[tuple[dict[str, Any], bytes]] = []
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict) or not isinstance(doc.get("file_base64"), str):
                raise InvalidInput(f"documents[{i}]: needs file_base64 and the metadata fields")
            try:
                data = base64.b64decode(doc["file_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInput(f"documents[{i}].file_base64: is not base64") from None
            items.append(({k: v for k, v in doc.items() if k != "file_base64"}, data))
        agency = principal.agency_id

        def run() -> tuple[int, dict[str, Any]]:
            now = clock()
            issued = issue_batch(
                db,
                agency_id=agency,
                signer=signer_for(agency, now),
                account_address=address_for(agency),
                registry=registry(),
                items=items,
                now=now,
                public_url=base,
            )
            _audit_issued(db, principal, request, issued)
            status = 200 if all(d.existing for d in issued) else 201
            return status, {"documents": [_issued(db, d) for d in issued]}

        def request_hash() -> str:
            return request_sha256("POST /v1/documents:batch", body)

        return _answer(db, agency, idempotency_key, request_hash, run, response)

    def _view(db: Session, document_id: str) -> DocumentView:
        return get_document(db, document_id)

    @router.get(
        "/v1/documents/{document_id}",
        response_model=None,
        responses={200: {"model": DocumentOut, "description": "The document"}, **_READ_ERRORS},
    )
    def show(document_id: str, db: Annotated[Session, db_dep]) -> dict[str, Any]:
        """The stored metadata, hash, status, receipt, verification link and, once anchored, the proof."""
        return document_json(_view(db, document_id), base)

    @router.get(
        "/v1/documents/{document_id}/qr.png",
        response_class=Response,
        responses={200: _QR_PNG, **_READ_ERRORS},
    )
    def qr_png_route(
        document_id: str, db: Annotated[Session, db_dep], scale: Annotated[int, Query(ge=1, le=32)] = 8
    ) -> Response:
        """The QR code (PNG, ECC M) holding the verification link."""
        row = _view(db, document_id).row
        return Response(qr_png(verify_link(base, row.payload), scale=scale), media_type="image/png")

    @router.get(
        "/v1/documents/{document_id}/qr.svg",
        response_class=Response,
        responses={200: _QR_SVG, **_READ_ERRORS},
    )
    def qr_svg_route(
        document_id: str, db: Annotated[Session, db_dep], scale: Annotated[int, Query(ge=1, le=32)] = 8
    ) -> Response:
        """The QR code (SVG, ECC M) holding the verification link."""
        row = _view(db, document_id).row
        return Response(qr_svg(verify_link(base, row.payload), scale=scale), media_type="image/svg+xml")

    @router.get(
        "/v1/documents/{document_id}/bundle",
        response_model=None,
        responses={200: {"model": BundleOut, "description": "The proof bundle"}, **_READ_ERRORS},
    )
    def bundle(document_id: str, db: Annotated[Session, db_dep], response: Response) -> dict[str, Any]:
        """The proof bundle: verify it with only a JSON-RPC node and the pinned root key."""
        view = _view(db, document_id)
        token, root_kid = trust_list()
        response.headers["Content-Disposition"] = f'attachment; filename="{view.row.id}.bundle.json"'
        body = build_bundle(view, trust_list=token, root_kid=root_kid, public_url=base)
        register = offices_bundle_section(db, view.row.agency_id)  # the signer's authority: ledger.offices
        if register is not None:
            body["signer_authority"] = register
        return body

    @router.post(
        "/v1/documents/{document_id}/revoke",
        status_code=200,
        response_model=None,
        responses={
            200: {"model": DocumentOut, "description": "Revoked or superseded: confirmed on chain"},
            202: {"model": DocumentOut, "description": "Recorded; the revocation is on its way to the chain"},
            **_REVOKE_ERRORS,
        },
    )
    def revoke(
        document_id: str,
        body: RevokeIn,
        principal: Annotated[Principal, Depends(require_revoke)],
        db: Annotated[Session, db_dep],
        request: Request,
        response: Response,
    ) -> dict[str, Any]:
        """Revoke or supersede an anchored document (only its issuing agency may). A replacement (``replaced_by``,
        with the reason ``replaced``) must be anchored, of the same agency or one with recorded authority over it, in
        force, and not one this document already replaces. The revocation is recorded durably first; the anchoring
        worker sends it. 200 with the document ``revoked``/``superseded`` once it is
        confirmed on chain within the server's wait, else 202 with the revocation on its way (it still arrives)."""
        view = _view(db, document_id)
        result = revoke_document(
            db,
            view.row,
            agency_id=principal.agency_id,
            reason=body.reason,
            note=body.note,
            replaced_by=body.replaced_by,
            now=clock(),
        )
        reason = result.row.revocation_reason
        audit(
            db,
            action="document_superseded" if reason == "replaced" else "document_revoked",
            principal=principal,
            address=_address(request),
            document_id=result.row.id,
            detail={"number": result.row.number, "reason": reason, "replaced_by": result.row.replaced_by},
        )
        db.commit()
        result = _await_revocation(db, result, revoke_wait)
        if result.status == "anchored":
            response.status_code = 202
        else:
            after_revocation()
        return document_json(result, base)

    return router


def _await_revocation(db: Session, view: DocumentView, wait: float, poll: float = 0.05) -> DocumentView:
    """The document once its recorded revocation is confirmed on chain, or as it stands after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while view.status == "anchored" and time.monotonic() < deadline:
        time.sleep(poll)
        db.expire_all()  # read what the worker committed
        view = get_document(db, view.row.id)
    return view
