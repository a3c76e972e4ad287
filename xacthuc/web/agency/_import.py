"""Bulk import in the portal: the page reads the CSV in the browser and sends its rows a chunk at a time, each row
with its file; each chunk is issued all or none through ``issue_batch`` (as ``POST /v1/documents:batch``), so the
progress bar moves per chunk and a failure names its CSV row while the chunks before it stay issued."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import UploadFile
from sqlmodel import Session

from keys.error_messages import error_dict
from keys.errors import InvalidInput, XacthucError
from keys.limits import IMPORT_CHUNK_ROWS
from ledger.documents.metadata import DOCUMENT_FIELDS
from xacthuc.services import Services

from . import _actions
from ._auth import Staff

__all__ = ["MAX_CHUNK", "import_chunk"]

MAX_CHUNK = IMPORT_CHUNK_ROWS
_ITEM = re.compile(r"documents\[(\d+)\]: ")


def _rows(raw: str) -> list[dict[str, Any]]:
    try:
        rows = json.loads(raw)
    except ValueError:
        raise InvalidInput("rows: not JSON") from None
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_CHUNK:
        raise InvalidInput(f"rows: a list of 1 to {MAX_CHUNK} rows")
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("fields"), dict) or not isinstance(row.get("file"), str):
            raise InvalidInput("rows: each needs its CSV line (row), fields and file name")
    return rows


def import_chunk(
    services: Services,
    db: Session,
    staff: Staff,
    raw_rows: str,
    files: list[UploadFile],
    *,
    address: str,
    limit: int,
    lang: str = "en",
) -> tuple[dict[str, Any], int]:
    """Issue one chunk; ``(body, status)``: the documents issued, or the error naming the CSV row that failed, its
    message in ``lang`` (the page's)."""
    row_no: Any = None
    try:
        rows = _rows(raw_rows)
        by_name: dict[str, bytes] = {}
        for upload in files:
            data = upload.file.read(limit + 1)
            if len(data) > limit:
                raise InvalidInput(f"{upload.filename}: exceeds the {limit} byte limit")
            by_name[upload.filename or ""] = data
        items: list[tuple[dict[str, Any], bytes]] = []
        for row in rows:
            row_no = row.get("row")
            if row["file"] not in by_name:
                raise InvalidInput(f"file: {row['file']} was not chosen with the CSV")
            fields = {k: v for k, v in row["fields"].items() if k in DOCUMENT_FIELDS}
            items.append((fields, by_name[row["file"]]))
        row_no = None
        issued = _actions.issue_many(services, db, staff, items, address=address)
        db.commit()
    except XacthucError as exc:
        db.rollback()
        index = getattr(exc, "item", None)  # a batch's number errors name the item
        named = _ITEM.match(exc.message)  # its metadata errors start "documents[i]: "
        if index is None and named is not None:
            index = int(named.group(1))
            exc.message = exc.message[named.end() :]  # the row is named by its CSV line instead
            exc.args = (exc.message,)
        body = error_dict(exc, lang)
        if row_no is None and isinstance(index, int) and 0 <= index < len(rows):
            row_no = rows[index].get("row")
        return {"error": {**body, "row": row_no}}, exc.http_status
    return {
        "documents": [
            {"row": r.get("row"), "id": d.id, "number": d.metadata.get("number"), "existing": d.existing}
            for r, d in zip(rows, issued, strict=True)
        ]
    }, 200
