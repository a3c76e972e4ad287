"""``xacthuc staff create|list|disable|reset-password`` (``keys.staff``) and ``xacthuc audit`` (``xacthuc.audit``).

Creating an account, disabling one and setting a password unlock the city (the keystore passphrase), as creating an
agency does: a staff account can issue and revoke for its agency. Each is written to the audit log (actor ``cli``).
Listing and reading the audit log only read the database.

A password comes from ``--password-file``, else ``XACTHUC_STAFF_PASSWORD``, else a prompt (typed twice) on a
terminal; ``--generate`` makes a random one and prints it once.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from keys import staff as st
from keys.errors import XacthucError
from xacthuc import audit
from xacthuc.cli._common import (
    CliInputError,
    DataDir,
    JsonFlag,
    built,
    error_exit,
    load_settings,
    open_city,
    out,
    print_table,
)
from xacthuc.cli._common import read_file as read_cli_file
from xacthuc.database import session_scope
from xacthuc.services import Role

__all__ = ["audit_cmd", "staff_app"]

PASSWORD_ENV = "XACTHUC_STAFF_PASSWORD"  # noqa: S105 - the variable's name, not a password
COLUMNS = ["username", "agency_id", "role", "full_name", "disabled", "created_at"]
AUDIT_COLUMNS = ["id", "at", "action", "actor", "agency_id", "document_id", "address"]

staff_app = typer.Typer(
    help="Staff accounts: the people who sign in to the agency portal (/agency).", no_args_is_help=True
)

Username = Annotated[str, typer.Argument(help="The staff account's username")]
PasswordFile = Annotated[
    Path | None, typer.Option("--password-file", help=f"Read the password from this file (else ${PASSWORD_ENV})")
]
Generate = Annotated[bool, typer.Option("--generate", help="Generate a random password and print it once")]


def _iso(dt: datetime) -> str:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).isoformat().replace("+00:00", "Z")


def _json(row: st.StaffAccount) -> dict[str, Any]:
    return {
        "username": row.username,
        "agency_id": row.agency_id,
        "role": row.role,
        "full_name": row.full_name,
        "disabled": row.disabled,
        "created_at": _iso(row.created_at),
    }


def _password(password_file: Path | None, generate: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (then it is printed once)."""
    if generate:
        if password_file is not None:
            raise CliInputError("--generate and --password-file: choose one")
        return st.generate_password(), True
    if password_file is not None:
        return read_cli_file(password_file, field="password-file").decode("utf-8").rstrip("\r\n"), False
    from_settings = load_settings().staff_password
    if from_settings:
        return from_settings, False
    if not sys.stdin.isatty():
        raise CliInputError(f"no password: give --password-file, set {PASSWORD_ENV}, or use --generate")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True)), False


def _done(body: dict[str, Any], text: str, password: str | None, as_json: bool) -> None:
    if password is not None:
        body = {**body, "password": password}
    if as_json:
        print(json.dumps(body, ensure_ascii=False))
        return
    out.print(text, markup=False, highlight=False)
    if password is not None:
        out.print(f"password (shown once): {password}", markup=False, highlight=False)


@staff_app.command("create")
def staff_create(
    agency_id: Annotated[str, typer.Option("--agency", help="The agency the account works for")],
    username: Annotated[str, typer.Option("--username", help="3-64 lowercase letters, digits, '.', '_' or '-'")],
    role: Annotated[str, typer.Option("--role", help="clerk (issue, revoke) or manager (also reads the audit)")],
    full_name: Annotated[str, typer.Option("--full-name", help="The person's name, shown in the portal")] = "",
    password_file: PasswordFile = None,
    generate: Generate = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a staff account of an agency."""
    try:
        password, generated = _password(password_file, generate)
        with open_city(data_dir) as (_city, session):
            now = datetime.now(UTC)
            row = st.create_staff(
                session,
                agency_id=agency_id,
                username=username,
                role=role,
                password=password,
                now=now,
                full_name=full_name,
            )
            audit.record(
                session,
                action="staff_created",
                actor="cli",
                now=now,
                agency_id=row.agency_id,
                detail={"username": row.username, "role": row.role},
            )
            body = _json(row)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _done(
        body,
        f"created {body['role']} {body['username']} of {body['agency_id']}",
        password if generated else None,
        as_json,
    )


@staff_app.command("list")
def staff_list(
    agency_id: Annotated[str | None, typer.Option("--agency", help="Only this agency's accounts")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """List staff accounts (never their passwords)."""
    try:
        with built(data_dir, Role.READER) as services, session_scope(services.engine) as session:
            rows = [_json(r) for r in st.list_staff(session, agency_id)]
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print_table("Staff accounts", rows, COLUMNS)


@staff_app.command("disable")
def staff_disable(username: Username, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end."""
    try:
        with open_city(data_dir) as (_city, session):
            now = datetime.now(UTC)
            row = st.disable_staff(session, username, now)
            audit.record(
                session,
                action="staff_disabled",
                actor="cli",
                now=now,
                agency_id=row.agency_id,
                detail={"username": row.username},
            )
            body = _json(row)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _done(body, f"disabled {body['username']}", None, as_json)


@staff_app.command("reset-password")
def staff_reset_password(
    username: Username,
    password_file: PasswordFile = None,
    generate: Generate = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Set a new password; the account's open sessions end."""
    try:
        password, generated = _password(password_file, generate)
        with open_city(data_dir) as (_city, session):
            now = datetime.now(UTC)
            row = st.reset_password(session, username, password, now)
            audit.record(
                session,
                action="staff_password_reset",
                actor="cli",
                now=now,
                agency_id=row.agency_id,
                detail={"username": row.username},
            )
            body = _json(row)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _done(body, f"new password set for {body['username']}", password if generated else None, as_json)


def audit_cmd(
    agency_id: Annotated[str | None, typer.Option("--agency", help="Only this agency's entries")] = None,
    document_id: Annotated[str | None, typer.Option("--document", help="Only this document's history")] = None,
    action: Annotated[str | None, typer.Option("--action", help=f"One of: {', '.join(audit.ACTIONS)}")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="e.g. staff:canbo.ubnd-hcm, cli")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries, newest first")] = 100,
    before: Annotated[int | None, typer.Option("--before", help="Entries older than this id (paging)")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Read the audit log: sign-ins, failed sign-ins, issues, revocations, supersessions, staff changes."""
    try:
        query = audit.AuditQuery(
            agency_id=agency_id, document_id=document_id, action=action, actor=actor, before=before, limit=limit
        )
        with built(data_dir, Role.READER) as services, session_scope(services.engine) as session:
            rows = [audit.audit_json(e) for e in audit.read_audit(session, query)]
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print_table("Audit log", rows, AUDIT_COLUMNS)
