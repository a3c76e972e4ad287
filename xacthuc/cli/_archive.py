"""The rows of an archive for ``xacthuc doc import``: a CSV (a ``file`` column, relative to the CSV, and metadata
columns) or a directory (each file ``X`` with its metadata in ``X.json``).

Each row carries where a clerk finds it: the CSV line its record starts on, or the document's file name. A row
that cannot be read (an empty ``file`` cell, malformed JSON, no file next to its ``.json``) keeps its problem and is
reported with the others; only an archive that cannot be read at all is a usage error.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keys.errors import XacthucError
from ledger.documents.metadata import DOCUMENT_FIELDS
from xacthuc.cli._common import CliInputError

__all__ = ["Archive", "ArchiveRow", "read_archive"]


@dataclass(frozen=True)
class ArchiveRow:
    row: int | str  # the CSV line the record starts on, or the document's file name
    fields: dict[str, Any]
    path: Path | None  # the document file; None when the row names none
    problem: XacthucError | None = None
    problem_field: str | None = None


@dataclass(frozen=True)
class Archive:
    rows: list[ArchiveRow]
    ignored_columns: list[str]  # CSV columns that are neither ``file`` nor a document field


def read_archive(source: Path) -> Archive:
    """Every row of ``source`` (``CLI_INPUT_INVALID`` when it is neither a readable CSV nor a directory)."""
    try:
        if source.is_dir():
            return Archive([_dir_row(meta) for meta in sorted(source.glob("*.json"))], [])
        return _csv_rows(source)
    except UnicodeDecodeError as exc:
        raise CliInputError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise CliInputError(f"{source}: not a CSV file ({exc})") from None
    except OSError as exc:
        raise CliInputError(f"{source}: {exc.strerror or type(exc).__name__}") from None


def _dir_row(meta_path: Path) -> ArchiveRow:
    target = meta_path.with_suffix("")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        problem = CliInputError(f"{meta_path.name}: not readable JSON ({exc})")
        return ArchiveRow(target.name, {}, target, problem, "metadata")
    if not isinstance(meta, dict):
        problem = CliInputError(f"{meta_path.name}: must be a JSON object of metadata fields")
        return ArchiveRow(target.name, {}, target, problem, "metadata")
    return ArchiveRow(target.name, meta, target)


def _csv_rows(source: Path) -> Archive:
    rows: list[ArchiveRow] = []
    with source.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if "file" not in header:
            raise CliInputError(f"{source}: no 'file' column (the document files, relative to the CSV)")
        ignored = [c for c in header if c != "file" and c not in DOCUMENT_FIELDS]
        line = reader.line_num + 1  # the line the next record starts on
        for record in reader:
            name = (record.get("file") or "").strip()
            meta = {k: v for k, v in record.items() if k in DOCUMENT_FIELDS and v not in (None, "")}
            if name:
                rows.append(ArchiveRow(line, meta, source.parent / name))
            else:
                rows.append(ArchiveRow(line, meta, None, CliInputError("the file column is empty"), "file"))
            line = reader.line_num + 1
    return Archive(rows, ignored)
