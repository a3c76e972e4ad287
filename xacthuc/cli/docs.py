"""``xacthuc doc issue|import|show|revoke``: thin Typer layers over ledger.documents.

``doc issue`` and ``doc import`` work on the local data dir (keystore and database) without a chain when the
registry is known (``registry.json`` written by ``serve``, or ``XACTHUC_REGISTRY_ADDRESS``); the worker of a running
``serve`` (or ``xacthuc anchor``) anchors them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from keys.bootstrap import City
from keys.errors import XacthucError
from ledger.documents.issuing import DocumentRow, issue_document
from ledger.documents.revocation import revoke_document
from ledger.documents.status import document_json, get_document
from xacthuc import audit
from xacthuc.cli._common import (
    CliInputError,
    DataDir,
    JsonFlag,
    agency_principal,
    built,
    err,
    error_exit,
    out,
    public_url,
    read_file,
    require_agency_role,
)
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["doc_app"]

ISSUE_ROLE = "documents:issue"
REVOKE_ROLE = "documents:revoke"

doc_app = typer.Typer(help="Documents: issue, import an archive, show, revoke.", no_args_is_help=True)


def _document_agency(city: City, agency: str | None, session: Session | None = None) -> str:
    """The agency a document is issued for: ``--agency`` if it may issue (``documents:issue``, checked as over
    HTTP: ``FORBIDDEN`` otherwise), else the only agency that may."""
    if agency is not None:
        require_agency_role(city, session, agency, ISSUE_ROLE)
        return agency
    candidates = [a for a in city.agency_ids() if ISSUE_ROLE in agency_principal(city, session, a).roles]
    if len(candidates) != 1:
        raise CliInputError(f"choose the issuing agency with --agency (one of: {', '.join(candidates) or 'none'})")
    return candidates[0]


def _links(body: dict[str, Any], base: str | None) -> dict[str, Any]:
    """``verify_url`` and ``qr_url`` on the configured public URL, or null without one (said once on stderr)."""
    if base is None:
        return {**body, "verify_url": None, "qr_url": None}
    return body


def _line(label: str, value: Any) -> None:
    out.print(f"{label:>12}: {value}", markup=False, highlight=False)


def _print_doc(body: Mapping[str, Any], as_json: bool) -> None:
    """The document for a person: what it is, its status and link, its revocation and its proof (``--json``: all of
    ``GET /v1/documents/{id}``)."""
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    for key in ("id", "agency_id", "number", "title", "issued_on", "status", "sha256", "verify_url"):
        if body.get(key) is not None:
            _line(key, body[key])
    if body.get("verify_url") is None and isinstance(body.get("receipt"), Mapping):
        _line("payload", body["receipt"].get("payload"))  # the QR text: verifiers take it as it is
    revocation = body.get("revocation")
    if revocation is not None:
        _line("revocation", f"{revocation['reason']}, {revocation['state'] or 'recorded'}")
        for key in ("replaced_by", "note", "revoked_at", "tx_hash", "block", "confirmed_at"):
            if revocation.get(key) is not None:
                _line(key, revocation[key])
    proof = body.get("proof")
    if proof is None:
        _line("proof", "none yet: the document is anchored by the worker (`xacthuc anchor --wait`)")
        return
    _line("proof", f"anchored at block {proof['block']} ({proof['anchored_at']})")
    for key in ("tx_hash", "chain_id", "contract", "root", "leaf"):
        _line(key, proof[key])
    _line("path", f"{len(proof['path'])} hashes" + ("" if proof["path"] else " (a batch of one)"))
    for step in proof["path"]:
        _line("", step)


@doc_app.command("issue")
def doc_issue(
    file: Annotated[Path, typer.Argument(metavar="FILE", dir_okay=False, help="The document file")],
    number: Annotated[str, typer.Option(help="Number and symbol, e.g. 2392/QĐ-UBND")],
    title: Annotated[str, typer.Option(help="Trích yếu")],
    issuing_body: Annotated[str, typer.Option()],
    place: Annotated[str, typer.Option()],
    issued_on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    signer_name: Annotated[str, typer.Option()],
    signer_title: Annotated[str, typer.Option()],
    signing_form: Annotated[str | None, typer.Option(help="TM., KT., TL., TUQ. or Q.")] = None,
    agency: Annotated[
        str | None, typer.Option(help="Issuing agency id (default: the only agency with documents:issue)")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue one document: sign its receipt, store it and queue it for anchoring; prints its id and, with
    XACTHUC_PUBLIC_URL set, its verification link."""
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
    try:
        file_bytes = read_file(file, field="FILE")
        with built(data_dir, Role.KEYS) as services, session_scope(services.engine) as session:
            registry = services.document_registry()
            city = services.require_city()
            agency_id = _document_agency(city, agency, session)
            now = services.clock()
            issued = issue_document(
                session,
                agency_id=agency_id,
                signer=city.keyring(agency_id).signer(now),
                account_address=city.eth_address(agency_id),
                registry=registry,
                fields=fields,
                file_bytes=file_bytes,
                now=now,
                public_url=services.settings.public_url,
                filename=file.name,
            )
            audit.record_issued(session, [issued], actor=audit.CLI_ACTOR, now=now, agency_id=agency_id)
            # The same number and file issued before: that document, whose status has moved on since.
            status = get_document(session, issued.id).status if issued.existing else issued.status
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    base = public_url(services.settings)
    body = {
        "id": issued.id,
        "agency_id": agency_id,
        **issued.metadata,
        "sha256": issued.sha256,
        "status": status,
        "existing": issued.existing,
        "notices": [n.to_dict() for n in issued.notices],
        "receipt": issued.receipt,
        "verify_url": issued.verify_url,
        "qr_url": f"{services.settings.public_url}/v1/documents/{issued.id}/qr.png",
    }
    _print_doc(_links(body, base), as_json)
    if not as_json:
        for notice in issued.notices:  # Vietnamese first, as everywhere a person reads
            err.print(f"{notice.vi} / {notice.en}", highlight=False, markup=False)


@doc_app.command("show")
def doc_show(
    document_id: Annotated[str, typer.Argument(metavar="ID", help="The document id")],
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a document: metadata, status, verification link, its revocation if any and, once anchored, its proof."""
    try:
        with built(data_dir, Role.READER) as services, Session(services.engine) as session:
            body = document_json(get_document(session, document_id), services.settings.public_url)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_doc(_links(body, public_url(services.settings)), as_json)


@doc_app.command("revoke")
def doc_revoke(
    document_id: Annotated[str, typer.Argument(metavar="ID", help="The document id")],
    reason: Annotated[str | None, typer.Option(help="annulled, replaced, error or other")] = None,
    replaced_by: Annotated[str | None, typer.Option("--replaced-by", help="The replacing document's id")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the revocation")] = None,
    agency: Annotated[
        str | None, typer.Option(help="Act as this agency (default: the document's); it needs documents:revoke")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the revocation is confirmed")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the confirmation")] = 120.0,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke (or supersede) an anchored document: recorded at once, then sent on chain for its issuing agency
    (by this command, or by the running server's worker) and, with --wait, confirmed. Only the issuing agency may,
    and only with documents:revoke, as over HTTP."""
    try:
        with built(data_dir, Role.WORKER) as services:
            with Session(services.engine, expire_on_commit=False) as session:
                row = session.get(DocumentRow, document_id.upper())
                get_document(session, document_id)  # DOC_NOT_FOUND for a missing one
                if row is not None:
                    actor = agency or row.agency_id
                    require_agency_role(services.require_city(), session, actor, REVOKE_ROLE)
                    now = services.clock()
                    revoked = revoke_document(
                        session,
                        row,
                        agency_id=actor,
                        reason=reason,
                        note=note,
                        replaced_by=replaced_by,
                        now=now,
                    ).row
                    audit.record(
                        session,
                        action="document_superseded" if revoked.revocation_reason == "replaced" else "document_revoked",
                        actor=audit.CLI_ACTOR,
                        now=now,
                        agency_id=actor,
                        document_id=revoked.id,
                        detail={
                            "number": revoked.number,
                            "reason": revoked.revocation_reason,
                            "replaced_by": revoked.replaced_by,
                        },
                    )
                    session.commit()  # durable: from here on the revocation reaches the chain whatever happens

            def left(session: Session) -> int:
                return 0 if get_document(session, document_id).status in ("revoked", "superseded") else 1

            services.drive_outbox(left, wait=wait, timeout=timeout)
            with Session(services.engine) as session:
                body = document_json(get_document(session, document_id), services.settings.public_url)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_doc(_links(body, public_url(services.settings)), as_json)
