"""``xacthuc doc stamp ID [-o FILE]``: the printable PDF of a document, as ``GET /v1/documents/{id}/stamped.pdf``
serves it: the issued PDF with its QR code added as an incremental update, or the cover page of a document issued
from another file (``ledger.pdf``). Read only: it needs the data dir's database, no key and no chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.documents.status import get_document
from ledger.pdf import printable_pdf
from verifier.pdf import find_stamp
from verifier.qr import qr_matrix
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, built, error_exit, out
from xacthuc.services import Role

__all__ = ["doc_stamp"]


def doc_stamp(
    document_id: Annotated[str, typer.Argument(metavar="ID", help="The document id")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write the PDF (default: ID.stamped.pdf or ID.cover.pdf here)"),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the stamped PDF of a document (its QR code and a caption added after the issued bytes, which stay
    first and unchanged), or a cover page with its metadata and QR code when it was not issued as a PDF.
    ``xacthuc verify FILE`` verifies the stamped PDF alone."""
    try:
        with built(data_dir, Role.READER) as services, Session(services.engine) as session:
            row = get_document(session, document_id).row
            pdf = printable_pdf(row, public_url=services.settings.public_url, qr_matrix=qr_matrix)
        path = output if output is not None else Path(pdf.filename)
        try:
            path.write_bytes(pdf.content)
        except OSError as exc:
            raise CliInputError(f"{path}: cannot be written ({exc.strerror or type(exc).__name__})") from None
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    stamp = find_stamp(pdf.content) if pdf.stamped else None
    original = stamp.original_length if stamp is not None else None
    if as_json:
        body = {"id": row.id, "path": str(path), "bytes": len(pdf.content), "stamped": pdf.stamped}
        print(json.dumps({**body, "original_length": original}, ensure_ascii=False))
    elif original is not None:
        out.print(
            f"wrote {path}: the issued PDF ({original:,} bytes, unchanged) and its stamp"
            f" ({len(pdf.content) - original:,} bytes)",
            markup=False,
            highlight=False,
        )
    else:
        out.print(
            f"wrote {path}: a cover page ({len(pdf.content):,} bytes); the document was not issued as a PDF",
            markup=False,
            highlight=False,
        )
