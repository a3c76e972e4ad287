"""``xacthuc doc import``: issue a whole archive (a CSV of metadata rows with file names, or a directory of files
each with its ``.json`` metadata)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from keys.errors import XacthucError
from ledger.documents.issuing import issue_batch
from ledger.documents.metadata import DOCUMENT_FIELDS
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, built, err, error_exit, out
from xacthuc.cli.docs import _document_agency
from xacthuc.database import session_scope
from xacthuc.services import Role

IMPORT_CHUNK = 500


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
