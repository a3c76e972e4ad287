"""``xacthuc doc issue|import|show|revoke``: thin Typer layers over ledger.documents.

``doc issue`` and ``doc import`` work on the local data dir (keystore and database) without a chain when the
registry is known (``registry.json`` written by ``serve``, or ``XACTHUC_REGISTRY_ADDRESS``); the worker of a running
``serve`` (or ``xacthuc anchor``) anchors them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.documents.issuing import DocumentRow, issue_batch, issue_document
from ledger.documents.metadata import DOCUMENT_FIELDS
from ledger.documents.revocation import revoke_document
from ledger.documents.status import document_json, get_document
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, built, err, error_exit, out
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["doc_app"]

doc_app = typer.Typer(help="Documents: issue, import an archive, show, revoke.", no_args_is_help=True)

IMPORT_CHUNK = 500


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


def _import_items(source: Path) -> list[tuple[dict[str, Any], Path]]:
    """CSV: a ``file`` column (relative to the CSV) and the metadata columns. DIR: ``X`` with its ``X.json``."""
    items: list[tuple[dict[str, Any], Path]] = []
    if source.is_dir():
        for meta_path in sorted(source.glob("*.json")):
            target = meta_path.with_suffix("")
            if not target.is_file():
                raise CliInputError(f"{meta_path.name}: no file {target.name} next to it")
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise CliInputError(f"{meta_path.name}: must be a JSON object of metadata fields")
            items.append((meta, target))
        return items
    with source.open(newline="", encoding="utf-8-sig") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            name = (row.pop("file", None) or "").strip()
            if not name:
                raise CliInputError(f"row {i + 2}: the file column is empty")
            meta = {k: v for k, v in row.items() if k in DOCUMENT_FIELDS and v not in (None, "")}
            items.append((meta, source.parent / name))
    return items


def _chunks(items: list[tuple[dict[str, Any], Path]], size: int) -> Iterator[list[tuple[dict[str, Any], Path]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@doc_app.command("import")
def doc_import(
    source: Annotated[Path, typer.Argument(exists=True, help="A CSV (file + metadata columns) or a directory")],
    agency: Annotated[str | None, typer.Option(help="Issuing agency id")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Import an archive in chunks of 500 (each chunk all or nothing), with a progress bar."""
    issued_ids: list[str] = []
    try:
        items = _import_items(source)
        with (
            built(data_dir, Role.KEYS) as services,
            session_scope(services.engine) as session,
            Progress(
                TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
            ) as bar,
        ):
            registry = services.document_registry()
            city = services.require_city()
            agency_id = _document_agency(city, agency)
            task = bar.add_task("import", total=len(items))
            address = city.eth_address(agency_id)
            for chunk in _chunks(items, IMPORT_CHUNK):
                now = services.clock()
                docs = issue_batch(
                    session,
                    agency_id=agency_id,
                    signer=city.keyring(agency_id).signer(now),
                    account_address=address,
                    registry=registry,
                    items=[(meta, path.read_bytes()) for meta, path in chunk],
                    now=now,
                    public_url=services.settings.public_url,
                )
                session.commit()
                issued_ids += [d.id for d in docs]
                bar.advance(task, len(chunk))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    except (OSError, ValueError, KeyError) as exc:
        raise error_exit(CliInputError(f"{type(exc).__name__}: {exc}"), as_json) from None
    if as_json:
        print(json.dumps({"imported": len(issued_ids), "ids": issued_ids}))
    else:
        out.print(f"imported {len(issued_ids)} documents; they are anchored by the worker (`xacthuc anchor --wait`)")


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
