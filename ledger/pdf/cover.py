"""The print-ready cover page of a document issued from a file that is not a PDF (a .docx, an image, a scan...).

One A4 page: the Decree 30 metadata as stored, the issued file's name, size and SHA-256, and the QR code of the
verification link with the same caption as the stamp. The cover itself is no signed file: it verifies by its QR
code (and, with the issued file beside it, by that file's hash).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

from ._draw import MM, Line, qr_image, qr_side, text_ops
from ._font import EmbeddedFont, load_font
from ._objects import add_object
from .stamp import StampText

__all__ = ["A4", "cover_pdf"]

A4 = (595.28, 841.89)
_MARGIN = 20 * MM
_LABELS = (
    ("number", "Số, ký hiệu / Number"),
    ("title", "Trích yếu / Summary"),
    ("issuing_body", "Cơ quan ban hành / Issuing body"),
    ("place_date", "Nơi, ngày ban hành / Place and date"),
    ("signer", "Người ký / Signed by"),
    ("file", "Tệp đã ban hành / Issued file"),
    ("sha256", "SHA-256"),
    ("id", "Mã văn bản / Document id"),
)


def _wrap(font: EmbeddedFont, text: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and font.width(trial, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines or [""]


def _values(metadata: Mapping[str, Any], *, document_id: str, sha256: str, file: str) -> dict[str, str]:
    signer = " ".join(
        str(v) for v in (metadata.get("signing_form"), metadata.get("signer_title"), metadata.get("signer_name")) if v
    )
    return {
        "number": str(metadata.get("number", "")),
        "title": str(metadata.get("title", "")),
        "issuing_body": str(metadata.get("issuing_body", "")),
        "place_date": f"{metadata.get('place', '')}, {metadata.get('issued_on', '')}",
        "signer": signer,
        "file": file,
        "sha256": f"{sha256[:32]} {sha256[32:]}",
        "id": document_id,
    }


def cover_pdf(
    metadata: Mapping[str, Any],
    *,
    qr: Sequence[Sequence[bool]],
    text: StampText,
    sha256: str,
    file: str,
) -> bytes:
    """The cover page (one A4 page, PDF) for a document: ``metadata`` as stored, ``file`` a description of the
    issued file (its name and size), ``qr`` the verification link's modules (``verifier.qr.qr_matrix``)."""
    font = EmbeddedFont(load_font())
    writer = PdfWriter()
    page = writer.add_blank_page(*A4)
    width, height = A4
    usable = width - 2 * _MARGIN
    ops = ["q"]
    title = [
        Line("VĂN BẢN ĐIỆN TỬ ĐƯỢC XÁC THỰC", 16),
        Line("Verifiable electronic document", 11, 0.3),
        Line("Bản in kèm theo văn bản đã ban hành dưới dạng tệp không phải PDF.", 9),
        Line("A print-ready cover for a document issued as a file that is not a PDF.", 9, 0.3),
    ]
    ops.append(text_ops(font, "F1", title, _MARGIN, height - _MARGIN, usable))
    y = height - _MARGIN - 70
    label_width = 62 * MM
    for key, label in _LABELS:
        value = _values(metadata, document_id=text.document_id, sha256=sha256, file=file)[key]
        wrapped = _wrap(font, value, 10, usable - label_width)
        ops.append(text_ops(font, "F1", [Line(label, 8.5, 0.35)], _MARGIN, y - 1, label_width - 3 * MM))
        ops.append(text_ops(font, "F1", [Line(v, 10) for v in wrapped], _MARGIN + label_width, y, usable - label_width))
        y -= 12.5 * len(wrapped) + 6
    side = max(qr_side(len(qr)), 50 * MM)
    qr_top = y - 10 * MM
    ops.append(f"q {side:.2f} 0 0 {side:.2f} {_MARGIN:.2f} {qr_top - side:.2f} cm /QR Do Q")
    caption_x = _MARGIN + side + 6 * MM
    ops.append(text_ops(font, "F1", text.lines(), caption_x, qr_top, width - _MARGIN - caption_x))
    ops.append("Q")
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("ascii"))
    page[NameObject("/Contents")] = add_object(writer, content.flate_encode())
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/XObject"): DictionaryObject({NameObject("/QR"): qr_image(writer, qr)}),
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font.add_to(writer)}),
        }
    )
    writer.add_metadata({"/Title": f"{metadata.get('number', '')} · {text.document_id}", "/Producer": "xacthuc"})
    writer.root_object[NameObject("/Lang")] = TextStringObject("vi")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
