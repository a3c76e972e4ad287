"""Errors of the stamped PDF and the cover page (``ledger.pdf``)."""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = ["PdfFontUnavailable", "PdfUnreadable"]


class PdfUnreadable(LedgerError):
    """The document's file is not a PDF that can be stamped (damaged, or encrypted): download the file itself."""

    code = "PDF_UNREADABLE"
    http_status = 422


class PdfFontUnavailable(LedgerError):
    """The server has no font with Vietnamese letters for the stamp's caption (Debian's fonts-dejavu-core)."""

    code = "PDF_FONT_UNAVAILABLE"
    http_status = 503
