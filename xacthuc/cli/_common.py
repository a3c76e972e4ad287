"""What every command shares: the ``--data-dir`` and ``--json`` options, the consoles, the one error printer, the
logging set-up, and its parts from the one builder (``built``, ``open_city``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from keys.bootstrap import City
from keys.errors import InvalidInput, XacthucError
from xacthuc.database import session_scope
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings, load_settings

__all__ = [
    "CliInputError",
    "DataDir",
    "JsonFlag",
    "Settings",
    "StorageUnavailable",
    "as_typed",
    "built",
    "err",
    "error_exit",
    "load_settings",
    "open_city",
    "out",
    "setup_logging",
]

err = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: XACTHUC_DATA_DIR, else ./var)", show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


class StorageUnavailable(XacthucError):
    """The data directory or the database could not be used."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


class CliInputError(InvalidInput):
    """A command-line input is unusable."""

    code = "CLI_INPUT_INVALID"


def error_exit(exc: XacthucError, as_json: bool = False) -> typer.Exit:
    """The one way a command reports a typed error: ``{"error": ...}`` on stdout with ``--json``, else one line on
    standard error; exit code 2. Never a traceback."""
    error = exc.to_dict()
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
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


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("web3", "urllib3", "alembic.runtime.migration", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
