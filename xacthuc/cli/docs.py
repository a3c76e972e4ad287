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
from rich.markup import escape
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.documents.issuing import DocumentRow, issue_document
from ledger.documents.revocation import revoke_document
from ledger.documents.status import document_json, get_document
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, built, error_exit, out
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["doc_app"]

doc_app = typer.Typer(help="Documents: issue, import an archive, show, revoke.", no_args_is_help=True)


def _document_agency(city: Any, agency: str | None) -> str:
    if agency is not None:
        return agency
    candidates = []
    for a in city.agency_ids():
        profile = city.keyring(a).profile
        if profile is not None and "documents" in profile.roles and not profile.disabled:
            candidates.append(a)
    if len(candidates) != 1:
        raise CliInputError(f"choose the issuing agency with --agency (one of: {', '.join(candidates) or 'none'})")
    return str(candidates[0])


def _print_doc(body: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    for key in ("id", "number", "title", "status", "sha256", "verify_url"):
        if body.get(key) is not None:
            out.print(escape(f"{key:>10}: {body[key]}"))
    revocation = body.get("revocation")
    if revocation is not None:
        out.print(escape(f"{'revocation':>10}: {revocation['reason']}, {revocation['state']}"))


@doc_app.command("issue")
def doc_issue(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The document file")],
    number: Annotated[str, typer.Option(help="Number and symbol, e.g. 2392/QĐ-UBND")],
    title: Annotated[str, typer.Option(help="Trích yếu")],
    issuing_body: Annotated[str, typer.Option()],
    place: Annotated[str, typer.Option()],
    issued_on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    signer_name: Annotated[str, typer.Option()],
    signer_title: Annotated[str, typer.Option()],
    signing_form: Annotated[str | None, typer.Option(help="TM., KT., TL., TUQ. or Q.")] = None,
    agency: Annotated[str | None, typer.Option(help="Issuing agency id (default: the only documents agency)")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue one document: sign its receipt, store it and queue it for anchoring; prints its verification link."""
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
        with built(data_dir, Role.KEYS) as services, session_scope(services.engine) as session:
            public_url = services.settings.public_url
            registry = services.document_registry()
            city = services.require_city()
            agency_id = _document_agency(city, agency)
            now = services.clock()
            issued = issue_document(
                session,
                agency_id=agency_id,
                signer=city.keyring(agency_id).signer(now),
                account_address=city.eth_address(agency_id),
                registry=registry,
                fields=fields,
                file_bytes=file.read_bytes(),
                now=now,
                public_url=public_url,
                filename=file.name,
            )
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    body = {
        "id": issued.id,
        **issued.metadata,
        "sha256": issued.sha256,
        "status": issued.status,
        "receipt": issued.receipt,
        "verify_url": issued.verify_url,
        "qr_url": f"{public_url}/v1/documents/{issued.id}/qr.png",
    }
    _print_doc(body, as_json)


@doc_app.command("show")
def doc_show(document_id: str, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Show a document: metadata, status, receipt, verification link and, once anchored, its proof."""
    try:
        with built(data_dir, Role.READER) as services, Session(services.engine) as session:
            body = document_json(get_document(session, document_id), services.settings.public_url)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_doc(body, as_json)


@doc_app.command("revoke")
def doc_revoke(
    document_id: str,
    reason: Annotated[str | None, typer.Option(help="annulled, replaced, error or other")] = None,
    replaced_by: Annotated[str | None, typer.Option("--replaced-by", help="The replacing document's id")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the revocation")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the revocation is confirmed")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the confirmation")] = 120.0,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke (or supersede) an anchored document: recorded at once, then sent on chain from its issuing agency's
    account (by this command, or by the running server's worker) and, with --wait, confirmed."""
    try:
        with built(data_dir, Role.WORKER) as services:
            with Session(services.engine, expire_on_commit=False) as session:
                row = session.get(DocumentRow, document_id.upper())
                get_document(session, document_id)  # DOC_NOT_FOUND for a missing one
                if row is not None:
                    revoke_document(
                        session,
                        row,
                        agency_id=row.agency_id,
                        reason=reason,
                        note=note,
                        replaced_by=replaced_by,
                        now=services.clock(),
                    )
                    session.commit()  # durable: from here on the revocation reaches the chain whatever happens

            def left(session: Session) -> int:
                return 0 if get_document(session, document_id).status in ("revoked", "superseded") else 1

            services.drive_outbox(left, wait=wait, timeout=timeout)
            with Session(services.engine) as session:
                body = document_json(get_document(session, document_id), services.settings.public_url)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_doc(body, as_json)
