"""Sample PDFs written by hand (not by pypdf, so stamping meets a file another producer wrote): text pages with a
classic cross-reference table, optionally padded with an incompressible image to reach a size (the 2 MB bench)."""

from __future__ import annotations

import random


def sample_pdf(*, pages: int = 1, title: str = "QUYET DINH 2392/QD-UBND", image_bytes: int = 0, seed: int = 1) -> bytes:
    """A valid PDF of ``pages`` A4 pages of Helvetica text; ``image_bytes`` of random grey pixels on the first page."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    image = 0
    if image_bytes:
        side = int(image_bytes**0.5)
        pixels = random.Random(seed).randbytes(side * side)
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8"
            b" /Length %d >>\nstream\n%s\nendstream" % (side, side, len(pixels), pixels)
        )
    page_ids = []
    pages_id = len(objects) + 1 + 2 * pages  # the page tree comes after every page and its content
    for n in range(pages):
        text = b"BT /F1 16 Tf 72 770 Td (%s) Tj ET\n" % title.encode()
        text += b"BT /F1 11 Tf 72 740 Td (Trang %d / Page %d. Noi dung quyet dinh.) Tj ET\n" % (n + 1, n + 1)
        if image and n == 0:
            text += b"q 300 0 0 300 150 300 cm /Im1 Do Q\n"
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
        xobjects = b" /XObject << /Im1 %d 0 R >>" % image if image and n == 0 else b""
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R"
                b" /Resources << /Font << /F1 %d 0 R >>%s >> >>" % (pages_id, content, font, xobjects)
            )
        )
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)
