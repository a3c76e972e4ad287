"""``GET /v1/documents/{id}/stamped.pdf``: the issued PDF with its QR code as an incremental update, or the cover page
of a document that is not a PDF (``ledger.pdf``). Public, like the document's QR code: the id is on the paper."""
# no `from __future__ import annotations`: FastAPI evaluates the route signatures

from collections.abc import Callable, Iterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlmodel import Session

from keys.api import error_responses
from ledger.documents.issuing import DocumentNotFound
from ledger.documents.status import get_document
from ledger.pdf import PdfFontUnavailable, PdfUnreadable, printable_pdf

__all__ = ["build_stamped_router"]

_PDF = {
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    "description": "The stamped PDF (the issued bytes first, then the stamp), or a cover page for another file",
}


def build_stamped_router(
    *,
    session: Callable[[], Iterator[Session]],
    public_url: str,
    qr_matrix: Callable[[str], Sequence[Sequence[bool]]],
) -> APIRouter:
    """``qr_matrix(link)``: the verification link's QR modules (the verifier's renderer; ledger/ does not import it)."""
    router = APIRouter(tags=["documents"])
    db_dep = Depends(session)
    base = public_url.rstrip("/")

    @router.get(
        "/v1/documents/{document_id}/stamped.pdf",
        response_class=Response,
        responses={200: _PDF, **error_responses(DocumentNotFound, PdfUnreadable, PdfFontUnavailable)},
    )
    def stamped_pdf(document_id: str, db: Annotated[Session, db_dep]) -> Response:
        """The issued PDF with its QR code and a caption added on the first page as an incremental update: its first
        bytes are the issued file, whose SHA-256 is the anchored one, and ``POST /v1/verify`` with only this file
        verifies it. A document issued from another file gets a print-ready cover page with its metadata and QR."""
        row = get_document(db, document_id).row
        pdf = printable_pdf(row, public_url=base, qr_matrix=qr_matrix)  # a sync route: FastAPI runs it in a thread
        return Response(
            pdf.content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{pdf.filename}"',
                "X-Xacthuc-Stamped": "true" if pdf.stamped else "false",
            },
        )

    return router
