"""``xacthuc agency ...`` and ``xacthuc keys ...``: thin Typer layers over keys/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from keys import agencies as ag
from keys.errors import XacthucError
from keys.keyring import KeyRecord
from xacthuc.cli._common import DataDir, JsonFlag, err, error_exit, open_city, out, print_table

__all__ = ["agency_app", "keys_app"]

agency_app = typer.Typer(help="Agencies and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Signature keys: list, rotate, retire, compromise, export.", no_args_is_help=True)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def _key_json(agency_id: str, k: KeyRecord) -> dict[str, Any]:
    return {
        "agency_id": agency_id,
        "kid": k.kid,
        "alg": k.alg,
        "status": k.status,
        "not_before": _iso(k.not_before),
        "not_after": _iso(k.not_after),
        "compromised_at": _iso(k.compromised_at),
    }


# --- agency ---------------------------------------------------------------------------------------------------------


@agency_app.command("create")
def agency_create(
    name: Annotated[str, typer.Option("--name", help="Vietnamese name")],
    roles: Annotated[str, typer.Option("--roles", help="documents, identity, or API roles, comma-separated")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name")] = "",
    agency_id: Annotated[str | None, typer.Option("--id", help="Short id such as ubnd-q1")] = None,
    alg: Annotated[str, typer.Option("--alg", help="ES256 or EdDSA")] = "ES256",
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an agency with a signing key, an Ethereum account and an API key (printed once)."""
    try:
        with open_city(data_dir) as (city, session):
            p = city.provision_agency(
                session,
                name=name,
                name_en=name_en,
                roles=[r for r in roles.split(",") if r.strip()],
                now=datetime.now(UTC),
                agency_id=agency_id,
                alg=alg,
            )
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    result: dict[str, Any] = {
        "id": p.agency.id,
        "name": p.agency.name,
        "roles": list(p.agency.roles),
        "eth_address": p.agency.eth_address,
        "api_key": None if p.api_key is None else p.api_key.token,
        "api_key_roles": [] if p.api_key is None else list(p.api_key.roles),
    }
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    out.print(f"agency {result['id']} created ({', '.join(result['roles'])})", markup=False, highlight=False)
    out.print(f"Ethereum account: {result['eth_address']}", markup=False, highlight=False)
    if result["api_key"]:
        out.print(f"API key ({', '.join(result['api_key_roles'])}), shown only once:", markup=False)
        print(result["api_key"])


@agency_app.command("list")
def agency_list(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List agencies."""
    try:
        with open_city(data_dir) as (_city, session):
            rows: list[dict[str, Any]] = [
                {
                    "id": a.id,
                    "name": a.name,
                    "name_en": a.name_en,
                    "roles": list(a.roles),
                    "eth_address": a.eth_address,
                    "disabled": a.disabled,
                }
                for a in ag.list_agencies(session)
            ]
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print_table(
            "Agencies",
            [{**r, "roles": ",".join(r["roles"])} for r in rows],
            ["id", "name", "roles", "eth_address", "disabled"],
        )


@agency_app.command("disable")
def agency_disable(agency_id: str, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Disable an agency: its API keys stop working and it leaves the trust list."""
    try:
        with open_city(data_dir) as (city, session):
            agency = city.disable_agency(session, agency_id, datetime.now(UTC))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps({"id": agency.id, "disabled": True}))
    else:
        out.print(f"agency {agency.id} disabled", markup=False)


# --- keys -----------------------------------------------------------------------------------------------------------

KEY_COLUMNS = ["agency_id", "kid", "alg", "status", "not_before", "not_after", "compromised_at"]


@keys_app.command("list")
def keys_list(
    agency_id: Annotated[str | None, typer.Option("--agency", help="Only this agency")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """List signature keys with their windows and status."""
    try:
        with open_city(data_dir) as (city, _session):
            ids = [agency_id] if agency_id else city.agency_ids()
            rows = [_key_json(a, k) for a in ids for k in city.keyring(a).keys]
            if not agency_id:
                rows = [_key_json("(city root)", k) for k in city.root_ring.keys] + rows
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(rows))
    else:
        print_table("Keys", rows, KEY_COLUMNS)


def _print_key(agency_id: str, k: KeyRecord, verb: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_key_json(agency_id, k)))
    else:
        out.print(f"{verb} {agency_id} key {k.kid} ({k.alg}, {k.status})", markup=False, highlight=False)


@keys_app.command("rotate")
def keys_rotate(
    agency_id: str,
    alg: Annotated[str | None, typer.Option("--alg", help="ES256 or EdDSA (default: as before)")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Give an agency a new active key; the old one retires now and keeps verifying what it signed."""
    try:
        with open_city(data_dir) as (city, _session):
            record = city.keyring(agency_id).rotate(datetime.now(UTC), alg=alg)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_key(agency_id, record, "new", as_json)


@keys_app.command("retire")
def keys_retire(agency_id: str, kid: str, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Stop signing with a key from now on."""
    try:
        with open_city(data_dir) as (city, _session):
            record = city.keyring(agency_id).retire(kid, datetime.now(UTC))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_key(agency_id, record, "retired", as_json)


@keys_app.command("compromise")
def keys_compromise(
    agency_id: str,
    kid: str,
    at: Annotated[str, typer.Option("--at", help="ISO 8601 time since when the key is compromised")],
    rotate: Annotated[bool, typer.Option("--rotate/--no-rotate", help="Issue a new key if none is left")] = True,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Mark a key compromised since --at: its signatures then need an on-chain anchor older than that."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter("--at must be an ISO 8601 time, e.g. 2026-01-15T09:00:00+07:00") from None
    if when.tzinfo is None:
        raise typer.BadParameter("--at needs a timezone, e.g. +07:00")
    try:
        with open_city(data_dir) as (city, _session):
            record = city.compromise(agency_id, kid, when, datetime.now(UTC), rotate=rotate)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print_key(agency_id, record, "compromised", as_json)


@keys_app.command("export-jwks")
def keys_export_jwks(
    output: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Print (or write) the JWKS of every public key, the city root's included (JSON either way; --json also
    makes errors JSON, and with --out prints where it wrote)."""
    try:
        with open_city(data_dir) as (city, _session):
            text = json.dumps(city.jwks(), indent=2) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if output is None:
        print(text, end="")
    elif as_json:
        print(json.dumps({"out": str(output)}))
    else:
        err.print(f"wrote {output}", markup=False)
