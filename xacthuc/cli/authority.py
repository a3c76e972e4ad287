"""``xacthuc agency authority add|list|remove``: which agency has authority over which (``keys.authority``).

A document may be superseded by one of its own agency, or of an agency recorded here as having authority over its
agency. Adding and removing unlock the city (the keystore passphrase), as creating an agency does: who may replace
whose documents is a trust decision. Listing only reads the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from keys import authority as au
from keys.errors import XacthucError
from xacthuc.cli._common import DataDir, JsonFlag, built, error_exit, open_city, out, print_table
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["authority_app"]

authority_app = typer.Typer(
    help="Authority between agencies: a superior's documents may supersede its subordinate's.", no_args_is_help=True
)

Superior = Annotated[str, typer.Argument(help="The agency that has authority (e.g. ubnd-hcm)")]
Subordinate = Annotated[str, typer.Argument(help="The agency it has authority over (e.g. ubnd-q1)")]
COLUMNS = ["superior_id", "subordinate_id", "note", "created_at"]


def _json(a: au.Authority) -> dict[str, Any]:
    return {
        "superior_id": a.superior_id,
        "subordinate_id": a.subordinate_id,
        "note": a.note,
        "created_at": a.created_at.isoformat().replace("+00:00", "Z"),
    }


@authority_app.command("add")
def authority_add(
    superior: Superior,
    subordinate: Subordinate,
    note: Annotated[str, typer.Option("--note", help="Why (e.g. the decision that sets the hierarchy)")] = "",
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Record that SUPERIOR has authority over SUBORDINATE: SUPERIOR's documents may then supersede SUBORDINATE's."""
    try:
        with open_city(data_dir) as (_city, session):
            added = au.add_authority(session, superior, subordinate, now=datetime.now(UTC), note=note)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(_json(added), ensure_ascii=False))
    else:
        out.print(f"{added.superior_id} now has authority over {added.subordinate_id}", markup=False)


@authority_app.command("list")
def authority_list(
    agency_id: Annotated[str | None, typer.Option("--agency", help="Only where this agency is one of the two")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """List the recorded authorities."""
    try:
        with built(data_dir, Role.READER) as services, session_scope(services.engine) as session:
            rows = [_json(a) for a in au.list_authorities(session, agency_id)]
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print_table("Authority between agencies", rows, COLUMNS)


@authority_app.command("remove")
def authority_remove(
    superior: Superior,
    subordinate: Subordinate,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a recorded authority. Documents it already let SUPERIOR supersede stay superseded (on chain)."""
    try:
        with open_city(data_dir) as (_city, session):
            removed = au.remove_authority(session, superior, subordinate)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps({**_json(removed), "removed": True}, ensure_ascii=False))
    else:
        out.print(f"{removed.superior_id} no longer has authority over {removed.subordinate_id}", markup=False)
