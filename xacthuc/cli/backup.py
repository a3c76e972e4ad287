"""``xacthuc backup create FILE`` and ``xacthuc backup restore FILE --data-dir NEW [--database-url URL]``: one
encrypted file with the database, the keystore and the data dir's files, and the registry record
(:mod:`xacthuc.backup`; docs/operations.md, "Backups and restore")."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from web3 import Web3

from keys.errors import XacthucError
from xacthuc.backup import create_backup, redact, restore_backup
from xacthuc.chainsetup import recorded_registry
from xacthuc.citysetup import require_city, resolve_passphrase
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, err, error_exit, load_settings, out, setup_logging
from xacthuc.cli._progress import row_progress
from xacthuc.settings import Settings

__all__ = ["backup_app", "backup_create", "backup_restore"]

log = logging.getLogger("xacthuc")

backup_app = typer.Typer(help="Back up a city to one encrypted file, and restore it.", no_args_is_help=True)


def _registry(settings: Settings) -> dict[str, Any] | None:
    """The registry the city's documents name, when it is known without deploying one."""
    try:
        registry = recorded_registry(settings)
    except Exception as exc:  # the node is down: the address from the settings still goes in
        log.warning("backup: the registry's chain id could not be read (%s)", type(exc).__name__)
        if settings.registry_address is None:
            return None
        return {"chain_id": None, "address": settings.registry_address}
    if registry is None:
        return None
    return {"chain_id": registry.chain_id, "address": Web3.to_checksum_address(registry.hex_address)}


def _progress(label: str, total: int) -> Any:
    return row_progress(err, label, total)


@backup_app.command("create")
def backup_create(
    file: Annotated[Path, typer.Argument(help="The backup file to write (never overwritten)")],
    data_dir: DataDir = None,
    include_dev_chain: Annotated[
        bool, typer.Option("--include-dev-chain", help="Also the embedded development node's chain state")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Back up the city while it runs: the database (a consistent snapshot), the keystore and the data dir's other
    files, and the registry record, sealed with the keystore passphrase."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    try:
        require_city(settings)
        summary = create_backup(
            file,
            data_dir=settings.data_dir,
            database_url=settings.resolved_database_url(),
            passphrase=resolve_passphrase(settings),
            registry=_registry(settings),
            now=datetime.now(UTC),
            include_dev_chain=include_dev_chain,
            progress=_progress,
        )
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    result = {"file": str(file), "bytes": file.stat().st_size, **summary.to_json()}
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    out.print(
        f"backup written to {file} ({result['bytes']:,} bytes): {summary.rows:,} rows in {summary.tables} tables"
        f" ({summary.database}, schema {summary.revision}), {len(summary.files)} files",
        markup=False,
        highlight=False,
    )


@backup_app.command("restore")
def backup_restore(
    file: Annotated[Path, typer.Argument(help="The backup file")],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The new data directory (empty or absent)")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="An empty database to restore into (PostgreSQL: how a city moves from SQLite); default "
            "XACTHUC_DATABASE_URL, else SQLite in the new data dir",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Restore a backup into a new, empty data dir and an empty database, after proving the whole file intact.
    The passphrase is the keystore passphrase of the city the backup was made from."""
    try:
        if data_dir is None:
            raise CliInputError("--data-dir NEW is required: a restore goes into a new, empty data dir")
        settings = load_settings(data_dir, database_url=database_url)
        setup_logging(settings)
        passphrase = resolve_passphrase(settings.model_copy(update={"dev_mode": False}))
        summary = restore_backup(
            file,
            data_dir=settings.data_dir,
            database_url=settings.database_url,
            passphrase=passphrase,
            progress=_progress,
        )
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    url = redact(settings.resolved_database_url())
    result = {"data_dir": str(settings.data_dir), "database_url": url, **summary.to_json()}
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    out.print(
        f"restored the backup of {summary.created_at} into {settings.data_dir} and {url}: {summary.rows:,} rows,"
        f" {len(summary.files)} files",
        markup=False,
        highlight=False,
    )
    if settings.database_url:
        out.print(f"run the city with XACTHUC_DATA_DIR={settings.data_dir} XACTHUC_DATABASE_URL={url}", markup=False)
