"""The stamped PDF that verifies itself, and the cover page of a document that is not a PDF.

``stamp_pdf`` appends the QR code and a caption to an issued PDF as one incremental update (the issued bytes stay
first and untouched); ``cover_pdf`` makes a one-page cover for any other file; ``printable_pdf`` picks one for a
stored document. The reading side, which needs no PDF library, is ``verifier.pdf``.
"""

from __future__ import annotations

from .cover import cover_pdf
from .errors import PdfFontUnavailable, PdfUnreadable
from .printable import PrintablePdf, printable_pdf
from .stamp import STAMP_KEY, STAMP_VERSION, StampText, is_pdf, stamp_pdf

__all__ = [
    "STAMP_KEY",
    "STAMP_VERSION",
    "PdfFontUnavailable",
    "PdfUnreadable",
    "PrintablePdf",
    "StampText",
    "cover_pdf",
    "is_pdf",
    "printable_pdf",
    "stamp_pdf",
]
