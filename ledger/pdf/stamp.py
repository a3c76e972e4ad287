"""The stamped PDF: the issued PDF, byte for byte, then one incremental update that adds its QR code and a caption.

The update (ISO 32000-1 §7.5.6, written by pypdf's incremental writer) only appends: the file's first
``original_length`` bytes are the issued file, whose SHA-256 the receipt signs and the chain anchors. It

- enlarges the first page's MediaBox (and CropBox) downwards by a band 40 mm tall, and draws in that band the QR
  code of the document's verification link and a caption ("Văn bản điện tử được xác thực tại <host>", English
  below it), so nothing of the issued page is covered;
- adds ``/XacthucStamp << /Version 1 /Payload <hex> /OriginalLength N >>`` to the document catalog: the receipt
  payload and the length of the original, readable without rendering and without a PDF library
  (``verifier.pdf.find_stamp``, and the verifier page's ``stamped-pdf.js``).

A digital signature inside the issued PDF stays valid: its signed revision is untouched (a viewer notes that a
later revision added to the first page). docs/qr-payload.md describes the layout a verifier relies on.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PageObject, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    PdfObject,
    RectangleObject,
)

from ._draw import MM, Line, qr_image, qr_side, text_ops
from ._font import EmbeddedFont, load_font
from ._objects import add_object
from .errors import PdfUnreadable

__all__ = ["BAND_MARGIN_MM", "STAMP_KEY", "STAMP_VERSION", "StampText", "is_pdf", "stamp_pdf"]

STAMP_KEY = "/XacthucStamp"
STAMP_VERSION = 1
BAND_MARGIN_MM = 4.0
_QR = "XacthucQR"
_FONT = "XacthucF1"


def is_pdf(data: bytes) -> bool:
    """The file says it is a PDF: ``%PDF-`` within its first 1024 bytes (where readers look for it)."""
    return b"%PDF-" in data[:1024]


@dataclass(frozen=True)
class StampText:
    """What the caption says: the verifier's host, the document's number and id."""

    host: str
    number: str
    document_id: str

    def lines(self) -> list[Line]:
        where = f"{self.host}/verify"
        return [
            Line(f"Văn bản điện tử được xác thực tại {self.host}", 9.5),
            Line(f"Electronic document, verifiable at {self.host}", 8, 0.3),
            Line(f"Số {self.number} · {self.document_id}", 8),
            Line(f"Quét mã QR bằng điện thoại, hoặc thả tệp PDF này vào {where}", 7),
            Line(f"Scan the QR code with a phone, or drop this PDF on {where}", 7, 0.3),
        ]


def stamp_pdf(original: bytes, *, payload: str, qr: Sequence[Sequence[bool]], text: StampText) -> bytes:
    """The stamped PDF: ``original`` unchanged, then an incremental update with the stamp (see the module doc).

    ``qr`` is the verification link's QR code as rows of modules (True: dark), quiet zone included
    (``verifier.qr.qr_matrix``). Raises :class:`PdfUnreadable` for a file pypdf cannot read or that is encrypted.
    """
    font = EmbeddedFont(load_font())
    try:
        writer = PdfWriter(io.BytesIO(original), incremental=True)
        if writer.is_encrypted:
            raise PdfUnreadable("the PDF is encrypted: it cannot be stamped without changing it")
        page = writer.pages[0]
        _stamp_page(writer, page, qr, font, text)
        writer.root_object[NameObject(STAMP_KEY)] = DictionaryObject(
            {
                NameObject("/Version"): NumberObject(STAMP_VERSION),
                NameObject("/Payload"): ByteStringObject(payload.encode("ascii")),
                NameObject("/OriginalLength"): NumberObject(len(original)),
            }
        )
        out = io.BytesIO()
        writer.write(out)
    except PdfUnreadable:
        raise
    except (PdfReadError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise PdfUnreadable(f"the PDF cannot be read to be stamped ({type(exc).__name__})") from None
    stamped = out.getvalue()
    # What a verifier relies on: the original first, and the update ending at its first %%EOF.
    if not stamped.startswith(original) or stamped.find(b"%%EOF", len(original)) != stamped.rstrip().rfind(b"%%EOF"):
        raise PdfUnreadable("the stamp could not be appended as one incremental update")
    return stamped


def _stamp_page(
    writer: PdfWriter, page: PageObject, qr: Sequence[Sequence[bool]], font: EmbeddedFont, text: StampText
) -> None:
    box = page.cropbox if "/CropBox" in page else page.mediabox
    left, bottom, right = float(box.left), float(box.bottom), float(box.right)
    side = qr_side(len(qr))
    margin = BAND_MARGIN_MM * MM
    band = side + 2 * margin
    media = page.mediabox
    page[NameObject("/MediaBox")] = RectangleObject(
        [media.left, min(float(media.bottom), bottom - band), media.right, media.top]
    )
    if "/CropBox" in page:
        page[NameObject("/CropBox")] = RectangleObject([box.left, bottom - band, box.right, box.top])

    qr_x, qr_y = left + margin, bottom - band + margin
    caption_x = qr_x + side + margin
    ops = [
        "q",
        f"1 g {left:.2f} {bottom - band:.2f} {right - left:.2f} {band:.2f} re f",  # the band, white
        f"0.55 G 0.5 w [3 2] 0 d {left:.2f} {bottom:.2f} m {right:.2f} {bottom:.2f} l S",  # where the page ends
        f"q {side:.2f} 0 0 {side:.2f} {qr_x:.2f} {qr_y:.2f} cm /{_QR} Do Q",
        text_ops(font, _FONT, text.lines(), caption_x, bottom - margin, right - margin - caption_x),
        "Q",
    ]
    resources = _own_resources(page)
    _add_resource(resources, "/XObject", _QR, qr_image(writer, qr))
    _add_resource(resources, "/Font", _FONT, font.add_to(writer))  # after the text: it embeds the glyphs used
    _append_content(writer, page, "\n".join(ops).encode("ascii"))


def _add_resource(resources: DictionaryObject, kind: str, name: str, ref: PdfObject) -> None:
    found = resources.get(kind)
    current = found.get_object() if found is not None else None
    # a copy: the original's dictionary may be shared with other pages, and is the original's
    sub = DictionaryObject(current) if isinstance(current, DictionaryObject) else DictionaryObject()
    sub[NameObject("/" + name)] = ref
    resources[NameObject(kind)] = sub


def _own_resources(page: DictionaryObject) -> DictionaryObject:
    """The page's resources as a dictionary of its own (a copy of what it had or inherited), set on the page."""
    node: DictionaryObject | None = page
    found: PdfObject | None = None
    while node is not None and found is None:
        found = node.get("/Resources")
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    current = found.get_object() if found is not None else None
    resources = DictionaryObject(current) if isinstance(current, DictionaryObject) else DictionaryObject()
    page[NameObject("/Resources")] = resources
    return resources


def _append_content(writer: PdfWriter, page: DictionaryObject, stamp: bytes) -> None:
    """The page's content wrapped in q/Q (so a state it leaves changed cannot move the stamp), then the stamp."""
    contents = page.get("/Contents")
    existing: list[PdfObject] = []
    if contents is not None:
        target = contents.get_object()
        existing = list(target) if isinstance(target, ArrayObject) else [contents]
    before, after = DecodedStreamObject(), DecodedStreamObject()
    before.set_data(b"q\n")
    after.set_data(b"\nQ\n" + stamp + b"\n")
    page[NameObject("/Contents")] = ArrayObject(
        [add_object(writer, before), *existing, add_object(writer, after.flate_encode())]
    )
