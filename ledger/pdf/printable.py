"""The printable PDF of an issued document: the stamped PDF when the issued file is a PDF, else its cover page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ledger.documents.receipt import verify_link
from ledger.documents.table import DocumentRow

from .cover import cover_pdf
from .stamp import StampText, is_pdf, stamp_pdf

__all__ = ["PrintablePdf", "printable_pdf"]

QrMatrix = Callable[[str], Sequence[Sequence[bool]]]


@dataclass(frozen=True)
class PrintablePdf:
    """The PDF, a file name for it, and whether it is the stamped original (else a cover page)."""

    content: bytes
    filename: str
    stamped: bool


def _host(public_url: str) -> str:
    parts = urlsplit(public_url)
    return (parts.netloc + parts.path).rstrip("/") or public_url


def printable_pdf(row: DocumentRow, *, public_url: str, qr_matrix: QrMatrix) -> PrintablePdf:
    """``row``'s stamped PDF (its file is a PDF) or its cover page (any other file, or none stored).

    ``qr_matrix(link)`` renders the verification link as QR modules (``verifier.qr.qr_matrix``: ledger/ does not
    import verifier/). Raises ``PdfUnreadable`` for a PDF that cannot be stamped, ``PdfFontUnavailable`` without a
    font for the caption.
    """
    link = verify_link(public_url, row.payload)
    text = StampText(host=_host(public_url), number=row.number, document_id=row.id)
    qr = qr_matrix(link)
    if row.file is not None and is_pdf(row.file):
        content = stamp_pdf(row.file, payload=row.payload, qr=qr, text=text)
        return PrintablePdf(content, f"{row.id}.stamped.pdf", stamped=True)
    name = row.filename or "-"
    described = f"{name} ({row.media_type or 'application/octet-stream'}, {row.file_size:,} bytes)".replace(",", ".")
    content = cover_pdf(row.metadata_dict, qr=qr, text=text, sha256=row.sha256, file=described)
    return PrintablePdf(content, f"{row.id}.cover.pdf", stamped=False)
