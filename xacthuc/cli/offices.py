"""``xacthuc office add|end|list`` and ``xacthuc delegation add|revoke|list``: an agency's register of offices and
delegations (``ledger.offices``), the same entries ``/v1/agencies/{id}/offices`` writes and serves.

Writing unlocks the city (the keystore passphrase): each entry is signed with the agency's key and queued for
anchoring like a document (the worker of a running ``serve``, or ``xacthuc anchor``, anchors it); an entry counts
for documents once it is anchored. Listing only reads the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.offices.register import (
    StoredEntry,
    Writer,
    add_delegation,
    add_office,
    end_office,
    register_json,
    revoke_delegation,
)
from xacthuc.cli._common import DataDir, JsonFlag, agency_principal, built, error_exit, out, print_table
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["delegation_app", "office_app"]

office_app = typer.Typer(help="Offices of an agency's register: who held which title, when.", no_args_is_help=True)
delegation_app = typer.Typer(
    help="Delegations of an agency's register (TL., TUQ.): who may sign for whom.", no_args_is_help=True
)

Agency = Annotated[str, typer.Argument(help="The agency whose register it is (e.g. ubnd-q3)")]
Day = Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")]
Until = Annotated[str | None, typer.Option("--until", help="Last day, YYYY-MM-DD")]
OFFICE_COLUMNS = ["id", "title", "holder", "from", "until", "head", "collective", "deputy_of", "acting", "entry"]
DELEGATION_COLUMNS = [
    "id",
    "form",
    "delegate",
    "delegate_title",
    "for_office",
    "document_types",
    "from",
    "until",
    "authorising_number",
    "revoked_from",
    "entry",
]


Write = Callable[[Session, Writer, datetime], StoredEntry]


def _write(data_dir: Path | None, agency: str, as_json: bool, write: Write) -> None:
    """Sign and queue one entry for ``agency`` (unlocking the city), then print it."""
    try:
        with built(data_dir, Role.KEYS) as services, session_scope(services.engine) as session:
            city = services.require_city()
            agency_principal(city, session, agency)  # AGENCY_NOT_FOUND for an unknown one
            now = services.clock()
            registry = services.document_registry()
            writer = Writer(agency, city.keyring(agency).signer(now), city.eth_address(agency), registry)
            entry = write(session, writer, now)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    body = entry.to_dict()
    if as_json:
        print(json.dumps(body, ensure_ascii=False))
        return
    ident = {"office.add": f"office o{entry.seq}", "delegation.add": f"delegation d{entry.seq}"}.get(entry.kind)
    what = f" ({ident})" if ident else ""
    out.print(f"entry {entry.seq} {entry.kind}{what} signed and queued for anchoring", markup=False, highlight=False)


def _list(data_dir: Path | None, agency: str, as_json: bool, part: str, columns: list[str], title: str) -> None:
    try:
        with built(data_dir, Role.READER) as services, Session(services.engine) as session:
            body = register_json(session, agency)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    rows = body[part]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        if isinstance(row.get("document_types"), list):
            row["document_types"] = ",".join(row["document_types"]) or "all"
    print_table(title, rows, columns)


@office_app.command("add")
def office_add(
    agency: Agency,
    title: Annotated[str, typer.Option(help="Chức danh, e.g. Phó Chủ tịch")],
    holder: Annotated[str, typer.Option(help="The holder's full name")],
    start: Day,
    until: Until = None,
    head: Annotated[bool, typer.Option("--head", help="The agency's head (người đứng đầu)")] = False,
    collective: Annotated[bool, typer.Option("--collective", help="Head of a collective body: signs TM.")] = False,
    deputy_of: Annotated[str | None, typer.Option("--deputy-of", help="A deputy's head office id (o1)")] = None,
    acting: Annotated[bool, typer.Option("--acting", help="Held in an acting capacity (Quyền): signs Q.")] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Appoint: record that HOLDER holds TITLE in AGENCY from a day (an office.add entry; its id is o<entry>)."""
    fields: dict[str, object] = {
        "title": title,
        "holder": holder,
        "from": start,
        "until": until,
        "head": head,
        "collective": collective,
        "deputy_of": deputy_of,
        "acting": acting,
    }
    _write(data_dir, agency, as_json, lambda s, w, now: add_office(s, w, fields, now))


@office_app.command("end")
def office_end(
    agency: Agency,
    office_id: Annotated[str, typer.Argument(metavar="OFFICE", help="The office id (o2)")],
    until: Annotated[str, typer.Option("--until", help="The last day in office, YYYY-MM-DD")],
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """End an office: its last day (an office.end entry)."""
    _write(data_dir, agency, as_json, lambda s, w, now: end_office(s, w, office_id, until, now))


@office_app.command("list")
def office_list(agency: Agency, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List the offices of AGENCY's register (every entry, anchored or not)."""
    _list(data_dir, agency, as_json, "offices", OFFICE_COLUMNS, f"Offices of {agency}")


@delegation_app.command("add")
def delegation_add(
    agency: Agency,
    form: Annotated[str, typer.Option(help="TL. or TUQ.")],
    delegate: Annotated[str, typer.Option(help="Who may sign (full name)")],
    delegate_title: Annotated[str, typer.Option(help="Their own title, as in the signature block")],
    start: Day,
    until: Until = None,
    for_office: Annotated[str | None, typer.Option("--for-office", help="The office signed for (o1)")] = None,
    types: Annotated[str | None, typer.Option("--types", help="Document types, e.g. QĐ,TB (default: all)")] = None,
    authorising_number: Annotated[
        str | None, typer.Option("--authorising-number", help="The authorising document, e.g. 15/QĐ-UBND")
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Delegate: DELEGATE may sign FORM for the office between two days (a delegation.add entry; id d<entry>). A TUQ.
    needs --until and --authorising-number."""
    fields: dict[str, object] = {
        "form": form,
        "delegate": delegate,
        "delegate_title": delegate_title,
        "for_office": for_office,
        "document_types": types or [],
        "from": start,
        "until": until,
        "authorising_number": authorising_number,
    }
    _write(data_dir, agency, as_json, lambda s, w, now: add_delegation(s, w, fields, now))


@delegation_app.command("revoke")
def delegation_revoke(
    agency: Agency,
    delegation_id: Annotated[str, typer.Argument(metavar="DELEGATION", help="The delegation id (d4)")],
    start: Annotated[str, typer.Option("--from", help="The first day it no longer covers, YYYY-MM-DD")],
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a delegation from a day on (a delegation.revoke entry)."""
    _write(data_dir, agency, as_json, lambda s, w, now: revoke_delegation(s, w, delegation_id, start, now))


@delegation_app.command("list")
def delegation_list(agency: Agency, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List the delegations of AGENCY's register."""
    _list(data_dir, agency, as_json, "delegations", DELEGATION_COLUMNS, f"Delegations of {agency}")
