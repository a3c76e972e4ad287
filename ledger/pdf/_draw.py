"""Drawing the QR code and lines of text into a PDF content stream (shared by the stamp and the cover page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PdfWriter
from pypdf.generic import BooleanObject, IndirectObject, NameObject, NumberObject, StreamObject

from ._font import EmbeddedFont
from ._objects import add_object

__all__ = ["MM", "QR_MIN_MODULE_MM", "QR_SIDE_MM", "Line", "qr_image", "qr_side", "text_ops"]

MM = 72 / 25.4  # points in a millimetre
QR_SIDE_MM = 32.0  # the printed QR code with its quiet zone, as the portal's A4 print view prints it
# Each module at least 0.4 mm: about 4.7 dots at 300 dpi, and 1.5 screen pixels at a 96-dpi 100 % zoom.
QR_MIN_MODULE_MM = 0.4


def qr_side(modules: int) -> float:
    """The QR code's side in points: 32 mm, or more when a larger version would make modules under 0.4 mm."""
    return max(QR_SIDE_MM, modules * QR_MIN_MODULE_MM) * MM


def qr_image(writer: PdfWriter, matrix: Sequence[Sequence[bool]]) -> IndirectObject:
    """A 1-bit image with one pixel a module (quiet zone included): crisp at any scale, a few hundred bytes."""
    size = len(matrix)
    rows = bytearray()
    for row in matrix:
        bits = 0
        for i, dark in enumerate(row):
            if not dark:  # DeviceGray 1 bit: 0 is black, 1 is white
                bits |= 1 << (7 - i % 8)
            if i % 8 == 7:
                rows.append(bits)
                bits = 0
        if size % 8:
            rows.append(bits)
    image = StreamObject()
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(size),
            NameObject("/Height"): NumberObject(size),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(1),
            NameObject("/Interpolate"): BooleanObject(False),
        }
    )
    image.set_data(bytes(rows))
    return add_object(writer, image.flate_encode())


@dataclass(frozen=True)
class Line:
    """One line of text: at most ``size`` points, smaller when it would be wider than the space given."""

    text: str
    size: float
    gray: float = 0.0


def text_ops(font: EmbeddedFont, name: str, lines: Sequence[Line], x: float, top: float, width: float) -> str:
    """Content-stream operators for ``lines`` from ``top`` down, left-aligned at ``x``, each fitted to ``width``."""
    ops = []
    y = top
    for line in lines:
        natural = font.width(line.text, line.size)
        size = line.size if natural <= width else max(4.0, line.size * width / natural)
        y -= size * 1.25
        ops.append(f"BT {line.gray:g} g /{name} {size:.2f} Tf {x:.2f} {y:.2f} Td {font.encode(line.text)} Tj ET")
    return "\n".join(ops)
