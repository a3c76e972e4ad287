"""What every command shares: the ``--data-dir`` and ``--json`` options, the consoles, the one error printer, the
logging set-up, and its parts from the one builder (``built``, ``open_city``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from keys import agencies as ag
from keys.bootstrap import City
from keys.error_messages import lang_from_locale
from keys.error_messages import message as error_message
from keys.errors import AgencyNotFound, Forbidden, InvalidInput, XacthucError
from xacthuc.database import StorageUnavailable, session_scope
from xacthuc.logs import setup_logging
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings, load_settings

__all__ = [
    "CliInputError",
    "CliUsageError",
    "DataDir",
    "FileNotFound",
    "JsonFlag",
    "Settings",
    "StorageUnavailable",
    "agency_principal",
    "as_typed",
    "built",
    "err",
    "error_exit",
    "json_requested",
    "load_settings",
    "open_city",
    "out",
    "print_table",
    "public_url",
    "read_file",
    "require_agency_role",
    "setup_logging",
]

# soft_wrap: a line is never broken by the console, so a link or an id is copied whole (a terminal still folds
# what is too long for it, without inserting a newline); colours and styles only on a terminal (Rich's rule)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: XACTHUC_DATA_DIR, else ./var)", show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


class CliInputError(InvalidInput):
    """A command-line input is unusable."""

    code = "CLI_INPUT_INVALID"


class CliUsageError(CliInputError):
    """The command line is not one the command understands (a missing option, a bad value, an unknown command)"""

    code = "CLI_USAGE"


class FileNotFound(CliInputError):
    """A file named on the command line does not exist"""

    code = "FILE_NOT_FOUND"

    def __init__(self, path: Path | str, *, field: str | None = None, hint: str = "") -> None:
        super().__init__(f"file not found: {path}" + (f" ({hint})" if hint else ""))
        self.path = str(path)
        self.field = field


def read_file(path: Path, *, field: str | None = None) -> bytes:
    """The bytes of a file named on the command line; ``FILE_NOT_FOUND`` (with the path and the option) when it
    is not there, ``CLI_INPUT_INVALID`` when it cannot be read (a directory, a missing permission)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFound(path, field=field) from None
    except OSError as exc:
        raise CliInputError(f"{path}: {exc.strerror or type(exc).__name__}") from None


def json_requested(args: list[str]) -> bool:
    """Whether the command line asks for JSON (``--json`` before any ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


_said: set[str] = set()  # the notes already given by this process


def public_url(settings: Settings) -> str | None:
    """The configured ``XACTHUC_PUBLIC_URL`` (links are built on it), else None, said once per process on standard
    error: without it a link would point at this machine's default address, which people elsewhere cannot open."""
    if "public_url" in Settings().model_fields_set:  # the environment or .env, not load_settings' fallback
        return settings.public_url
    if "no public url" not in _said:
        _said.add("no public url")
        err.print(
            "note: XACTHUC_PUBLIC_URL is not set, so no link is printed (set it to the address people reach this "
            "service at, e.g. https://xacthuc.example.gov.vn)",
            markup=False,
            highlight=False,
        )
    return None


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A Rich table on a terminal; tab-separated lines with a header otherwise (no box drawing in a pipe or file,
    and no cell cut short)."""
    cells = [["" if row.get(c) is None else str(row[c]) for c in columns] for row in rows]
    if out.is_terminal:
        table = Table(title=title)
        for c in columns:
            table.add_column(c, overflow="fold")
        for line in cells:
            table.add_row(*line)
        out.print(table)
        return
    for line in [columns, *cells]:
        print("\t".join(line))


def error_exit(exc: XacthucError, as_json: bool = False) -> typer.Exit:
    """The one way a command reports a typed error: ``{"error": ...}`` on stdout with ``--json`` (English, for
    scripts, whatever the locale), else one line on standard error, in Vietnamese when the locale says ``vi``
    (``LC_ALL``/``LC_MESSAGES``/``LANG``); exit code 2. Never a traceback."""
    error = exc.to_dict()
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
    elif lang_from_locale(os.environ) == "vi":
        err.print(f"[red]lỗi[/red] {escape(error['code'])}: {escape(error_message(exc, 'vi'))}", highlight=False)
    else:  # messages hold [brackets] and paths: never markup
        err.print(f"[red]error[/red] {escape(error['code'])}: {escape(error['message'])}", highlight=False)
    return typer.Exit(2)


def as_typed(exc: BaseException) -> XacthucError | None:
    """The typed error for what a command let through: a database or file it could not use (a mistyped data dir,
    a missing permission), else None (a bug, which keeps its traceback)."""
    if isinstance(exc, XacthucError):
        return exc
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None) or exc
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return StorageUnavailable(f"the database could not be used: {first}")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return StorageUnavailable(f"{where}{exc.strerror or type(exc).__name__}")
    return None


def _agency_roles(city: City, session: Session | None, agency_id: str) -> tuple[list[str], bool]:
    row = session.get(ag.Agency, agency_id) if session is not None else None
    if row is not None:
        return list(row.roles), row.disabled
    profile = city.keyring(agency_id).profile if agency_id in city.agency_ids() else None
    if profile is None:
        raise AgencyNotFound(f"no agency {agency_id}")
    return list(profile.roles), profile.disabled


def agency_principal(city: City, session: Session | None, agency_id: str) -> ag.Principal:
    """Who a command acts as when it acts for ``agency_id``: the API roles the agency's trust roles grant (what an
    API key created with them holds), none when it is disabled. The agency's database row decides when there is
    one (HTTP reads the same row), else the profile in its key ring (``AGENCY_NOT_FOUND`` for neither)."""
    roles, disabled = _agency_roles(city, session, agency_id)
    api_roles = () if disabled else ag.expand_roles(roles)[1]
    return ag.Principal(agency_id, frozenset(api_roles), api_key_id="")


def require_agency_role(city: City, session: Session | None, agency_id: str, role: str) -> ag.Principal:
    """The principal of ``agency_id`` if it may do what ``role`` allows, else the same typed ``Forbidden`` (code
    ``FORBIDDEN``, ``.role``) HTTP's ``require_role`` raises: the CLI acts through the same rule as the API. Every
    command that acts for an agency calls this (helpers: do not re-implement it)."""
    principal = agency_principal(city, session, agency_id)
    try:
        return ag.require_role(principal, role)
    except Forbidden:
        if _agency_roles(city, session, agency_id)[1]:
            why = "is disabled"
        else:
            why = f"lacks the role {role} (it has: {', '.join(sorted(principal.roles)) or 'none'})"
        raise Forbidden(f"agency {agency_id} {why}", role=role) from None


@contextmanager
def built(data_dir: Path | None, role: Role) -> Iterator[Services]:
    """What ``role`` needs, from the one builder, closed when the command is done (``CITY_NOT_FOUND`` for a data
    dir without a city, before anything is written into it)."""
    services = build_services(load_settings(data_dir), role=role)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def open_city(data_dir: Path | None) -> Iterator[tuple[City, Session]]:
    """The unlocked city and a database session that commits on success."""
    with built(data_dir, Role.KEYS) as services, session_scope(services.engine) as session:
        yield services.require_city(), session
