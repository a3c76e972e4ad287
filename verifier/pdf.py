"""Reading a stamped PDF (``ledger.pdf.stamp``) without a PDF library: its payload and the original byte range.

The stamp is one incremental update appended to the issued file. Its catalog entry
``/XacthucStamp << /Version 1 /Payload <hex> /OriginalLength N >>`` is written uncompressed, so a byte search finds
it (the browser does the same in ``xacthuc/web/static/verify/stamped-pdf.js``). The stamp's update runs from byte
``N`` to the end of the first ``%%EOF`` after it; anything but whitespace after that is a later update
(``FILE_UPDATED_AFTER_STAMP``), and the first ``N`` bytes must hash to the signed SHA-256 (else ``FILE_MODIFIED``).

Nothing read here is trusted: the payload is verified like any QR code, and the range only says which bytes to hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from keys.limits import PDF_STAMP_CANDIDATES, PDF_STAMP_PAYLOAD_HEX

from .report import CheckResult, Verdict, invalid, valid

__all__ = ["MAX_CANDIDATES", "PdfStamp", "find_stamp", "stamped_file_check"]

STAMP_MARK = b"/XacthucStamp"
MAX_CANDIDATES = PDF_STAMP_CANDIDATES
_MAX_PAYLOAD_HEX = PDF_STAMP_PAYLOAD_HEX
_DICT = re.compile(rb"/XacthucStamp\s*<<(.{0,%d}?)>>" % (_MAX_PAYLOAD_HEX + 512), re.DOTALL)
_PAYLOAD = re.compile(rb"/Payload\s*<([0-9A-Fa-f\s]{1,%d})>" % _MAX_PAYLOAD_HEX)
_LENGTH = re.compile(rb"/OriginalLength\s+(\d{1,12})(?![\d.])")
_VERSION = re.compile(rb"/Version\s+1(?![\d.])")
_WHITESPACE = b" \t\r\n\f\x00"


@dataclass(frozen=True)
class PdfStamp:
    """Where a stamped PDF's parts are: the original ``[0, original_length)``, the stamp up to ``stamp_end`` (its
    ``%%EOF`` and the whitespace after it), in a file of ``length`` bytes; ``payload`` the receipt payload it holds
    (None when only the layout was sent, as the verifier page sends it with the range's hash)."""

    original_length: int
    stamp_end: int
    length: int
    payload: str | None = None

    @property
    def updated_after_stamp(self) -> bool:
        """Bytes follow the stamp's update: the PDF was changed after it was stamped."""
        return self.length > self.stamp_end

    def to_dict(self) -> dict[str, int]:
        return {"original_length": self.original_length, "stamp_end": self.stamp_end, "length": self.length}


def _stamp_end(data: bytes, start: int) -> int | None:
    eof = data.find(b"%%EOF", start)
    if eof < 0:
        return None
    end = eof + 5
    while end < len(data) and data[end] in _WHITESPACE:
        end += 1
    return end


def find_stamp(data: bytes) -> PdfStamp | None:
    """The stamp of a stamped PDF, or None when ``data`` is no PDF or carries no stamp.

    The stamp is the ``/XacthucStamp`` entry that lies inside its own update (after its original, before the first
    ``%%EOF`` that follows the original); a copy in a later update (an editor that rewrote the catalog) is not it.
    With stamps nested (a stamped PDF issued again, then stamped), the outermost one counts.
    """
    if b"%PDF-" not in data[:1024]:
        return None
    best: PdfStamp | None = None
    pos = data.find(STAMP_MARK)
    seen = 0
    while pos >= 0 and seen < MAX_CANDIDATES:
        seen += 1
        found = _candidate(data, pos)
        if found is not None and (best is None or found.original_length > best.original_length):
            best = found
        pos = data.find(STAMP_MARK, pos + len(STAMP_MARK))
    return best


def _candidate(data: bytes, pos: int) -> PdfStamp | None:
    match = _DICT.match(data, pos)
    if match is None:
        return None
    body = match.group(1)
    length, payload = _LENGTH.search(body), _PAYLOAD.search(body)
    if length is None or payload is None or _VERSION.search(body) is None:
        return None
    original = int(length.group(1))
    if not 0 < original <= pos:
        return None
    end = _stamp_end(data, original)
    if end is None or pos >= end:
        return None
    hexdigits = re.sub(rb"\s", b"", payload.group(1))
    if len(hexdigits) % 2:
        return None
    try:
        text = bytes.fromhex(hexdigits.decode("ascii")).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return PdfStamp(original_length=original, stamp_end=end, length=len(data), payload=text)


def stamped_file_check(
    name: str, signed: bytes, stamp: PdfStamp, file_bytes: bytes | None, file_sha256: bytes | None
) -> CheckResult:
    """``file_matches`` for a stamped PDF: the original range hashes to the signed SHA-256 (``FILE_MODIFIED`` if
    not) and nothing follows the stamp (``FILE_UPDATED_AFTER_STAMP`` if something does). A file whose every byte
    is the signed file (a stamped PDF issued as it is) matches as any file does."""
    if file_bytes is not None:
        if hmac.compare_digest(hashlib.sha256(file_bytes).digest(), signed):
            return valid(name, "FILE_MATCHES", "the file is the signed document")
        digest = hashlib.sha256(memoryview(file_bytes)[: stamp.original_length]).digest()
    else:
        assert file_sha256 is not None
        digest = file_sha256
    data = stamp.to_dict()
    if not hmac.compare_digest(digest, signed):
        return invalid(
            name,
            "FILE_MODIFIED",
            f"the stamped PDF's original part (its first {stamp.original_length} bytes) is not the signed document:"
            " it was changed",
            Verdict.INVALID,
            sha256=digest.hex(),
            **data,
        )
    if stamp.updated_after_stamp:
        return invalid(
            name,
            "FILE_UPDATED_AFTER_STAMP",
            f"the PDF was changed after it was stamped: {stamp.length - stamp.stamp_end} bytes were added after the"
            " stamp (another incremental update), so what it shows may not be the signed document",
            Verdict.INVALID,
            **data,
        )
    return valid(
        name,
        "FILE_MATCHES",
        f"the stamped PDF's first {stamp.original_length} bytes are the signed document; one update follows them, the"
        " stamp's, whose own content is not signed",
        stamped=True,
        **data,
    )
