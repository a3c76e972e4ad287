"""The stamped PDF (ledger/pdf) and its reading side (verifier/pdf.py), without a chain: the original bytes stay
first and untouched, the payload and the original range are found by a byte search, the QR code decodes, and a
later incremental update or a changed byte is told apart."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, TextStringObject

from ledger.pdf import STAMP_KEY, PdfUnreadable, StampText, cover_pdf, stamp_pdf
from tests.pdf_samples import sample_pdf
from verifier.pdf import PdfStamp, find_stamp, stamped_file_check
from verifier.qr import decode_qr_image, qr_matrix

PAYLOAD = "XD1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:" * 6 + "Z1"
LINK = "https://xacthuc.hochiminhcity.gov.vn/v#" + PAYLOAD
TEXT = StampText(host="xacthuc.hochiminhcity.gov.vn", number="2392/QĐ-UBND", document_id="01J9ZX3Q4K8M2N6P7R8S9T0V1W")
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024 của Thành phố Hồ Chí Minh",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def _stamp(original: bytes) -> bytes:
    return stamp_pdf(original, payload=PAYLOAD, qr=qr_matrix(LINK), text=TEXT)


def _append_update(pdf: bytes) -> bytes:
    """What an editor saving incrementally does: another update after the stamp (here it rewrites the catalog too)."""
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.root_object[NameObject("/Lang")] = TextStringObject("vi")
    writer.pages[0][NameObject("/Rotate")] = TextStringObject("0")
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().startswith(pdf)
    return out.getvalue()


def _render(pdf: bytes, tmp_path: Path, dpi: int = 300) -> Image.Image:
    """The first page as printed at ``dpi`` (poppler's pdftoppm, a Debian package scripts/test.sh installs)."""
    (tmp_path / "in.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-gray", "-png", str(tmp_path / "in.pdf"), tmp_path / "p"],
        check=True,
        timeout=120,
    )
    [page] = sorted(tmp_path.glob("p*.png"))
    return Image.open(page)


needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) missing")


def test_stamping_keeps_the_original_bytes_and_their_hash() -> None:
    original = sample_pdf(pages=2)
    stamped = _stamp(original)
    assert stamped[: len(original)] == original
    assert hashlib.sha256(stamped[: len(original)]).digest() == hashlib.sha256(original).digest()
    reader = PdfReader(io.BytesIO(stamped))
    assert len(reader.pages) == 2
    assert "Văn bản điện tử được xác thực tại xacthuc.hochiminhcity.gov.vn" in reader.pages[0].extract_text()
    assert "QUYET DINH 2392/QD-UBND" in reader.pages[0].extract_text()  # the issued page is all still there
    box = reader.pages[0].mediabox
    assert float(box.bottom) < 0 and float(box.top) == 842  # a band added below the page, nothing covered


def test_stamping_is_deterministic() -> None:
    original = sample_pdf()
    assert _stamp(original) == _stamp(original)  # the API and the CLI hand out the same file


def test_the_payload_and_the_original_range_are_found_without_rendering() -> None:
    original = sample_pdf()
    stamped = _stamp(original)
    stamp = find_stamp(stamped)
    end = len(stamped)
    assert stamp == PdfStamp(original_length=len(original), stamp_end=end, length=end, payload=PAYLOAD)
    assert not stamp.updated_after_stamp
    entry = PdfReader(io.BytesIO(stamped)).trailer["/Root"][STAMP_KEY]  # a PDF library sees the same entry
    assert entry["/OriginalLength"] == len(original) and str(entry["/Payload"]) == PAYLOAD
    assert find_stamp(original) is None and find_stamp(b"not a pdf /XacthucStamp") is None


def test_the_qr_image_placed_in_the_stamp_decodes_to_the_link() -> None:
    reader = PdfReader(io.BytesIO(_stamp(sample_pdf())))
    image = reader.pages[0]["/Resources"]["/XObject"]["/XacthucQR"].get_object()
    width, height = image["/Width"], image["/Height"]
    modules = Image.frombytes("1", (width, height), image.get_data()).convert("L")
    assert decode_qr_image(_png(modules.resize((width * 8, height * 8), Image.Resampling.NEAREST))) == [LINK.encode()]


@needs_pdftoppm
def test_the_qr_of_the_stamped_page_scans_when_printed_at_300_dpi(tmp_path: Path) -> None:
    page = _render(_stamp(sample_pdf()), tmp_path, dpi=300)
    assert decode_qr_image(_png(page)) == [LINK.encode()]


@needs_pdftoppm
def test_the_qr_scans_from_a_screen_rendering_at_100_dpi(tmp_path: Path) -> None:
    page = _render(_stamp(sample_pdf()), tmp_path, dpi=100)  # a whole A4 page on a laptop screen
    assert decode_qr_image(_png(page)) == [LINK.encode()]


def test_qr_modules_stay_at_least_0_4_mm() -> None:
    from ledger.pdf._draw import MM, qr_side

    for modules in (57, 69, 77, 101):  # versions 10, 11 (a typical decision), 13, 19, quiet zone included
        assert qr_side(modules) / modules >= 0.4 * MM - 1e-9
    assert qr_side(69) == pytest.approx(32 * MM)  # the print view's 32 mm


def test_an_update_appended_after_the_stamp_is_told_apart() -> None:
    original = sample_pdf()
    stamped = _stamp(original)
    edited = _append_update(stamped)
    stamp = find_stamp(edited)
    assert stamp is not None and stamp.updated_after_stamp  # the copied catalog entry in the edit is not the stamp
    assert (stamp.original_length, stamp.stamp_end) == (len(original), len(stamped))
    signed = hashlib.sha256(original).digest()
    result = stamped_file_check("file_matches", signed, stamp, edited, None)
    assert (result.status.value, result.code) == ("invalid", "FILE_UPDATED_AFTER_STAMP")


def test_a_byte_changed_in_the_original_range_is_file_modified() -> None:
    original = sample_pdf()
    stamped = bytearray(_stamp(original))
    at = original.index(b"QUYET DINH")
    stamped[at] ^= 0x01
    stamp = find_stamp(bytes(stamped))
    assert stamp is not None
    result = stamped_file_check("file_matches", hashlib.sha256(original).digest(), stamp, bytes(stamped), None)
    assert (result.status.value, result.code) == ("invalid", "FILE_MODIFIED")


def test_trailing_whitespace_after_the_stamp_is_no_update() -> None:
    original = sample_pdf()
    stamped = _stamp(original) + b"\r\n\n"
    stamp = find_stamp(stamped)
    assert stamp is not None and not stamp.updated_after_stamp
    result = stamped_file_check("file_matches", hashlib.sha256(original).digest(), stamp, stamped, None)
    assert (result.status.value, result.code) == ("valid", "FILE_MATCHES")


def test_the_hash_of_the_range_alone_checks_as_the_file_does() -> None:
    original = sample_pdf()
    stamp = find_stamp(_stamp(original))
    assert stamp is not None
    layout = PdfStamp(stamp.original_length, stamp.stamp_end, stamp.length)
    signed = hashlib.sha256(original).digest()
    assert stamped_file_check("file_matches", signed, layout, None, signed).code == "FILE_MATCHES"
    assert stamped_file_check("file_matches", signed, layout, None, bytes(32)).code == "FILE_MODIFIED"
    later = PdfStamp(stamp.original_length, stamp.stamp_end, stamp.length + 900)
    assert stamped_file_check("file_matches", signed, later, None, signed).code == "FILE_UPDATED_AFTER_STAMP"


def test_a_stamped_pdf_issued_again_and_stamped_again_uses_the_outer_stamp() -> None:
    inner = _stamp(sample_pdf())
    outer = stamp_pdf(inner, payload="XD1:OUTER00", qr=qr_matrix(LINK), text=TEXT)
    stamp = find_stamp(outer)
    assert stamp is not None and stamp.payload == "XD1:OUTER00" and stamp.original_length == len(inner)


def test_a_damaged_or_encrypted_pdf_is_refused() -> None:
    with pytest.raises(PdfUnreadable):
        _stamp(b"%PDF-1.4\n this is no pdf at all")
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(PdfUnreadable):
        _stamp(out.getvalue())


def test_pages_with_inherited_resources_a_crop_box_and_content_arrays_are_stamped() -> None:
    writer = PdfWriter(io.BytesIO(sample_pdf(pages=2)))
    page = writer.pages[0]
    page.cropbox.lower_left = (20, 30)
    writer.pages[0].merge_page(PdfReader(io.BytesIO(sample_pdf(title="SECOND LAYER"))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    original = out.getvalue()
    stamped = _stamp(original)
    reader = PdfReader(io.BytesIO(stamped))
    first = reader.pages[0]
    assert float(first.cropbox.bottom) < 30 and "Văn bản điện tử" in first.extract_text()
    assert "/F1" in first["/Resources"]["/Font"]  # the page's own font kept beside the stamp's
    assert stamped.startswith(original) and find_stamp(stamped) is not None


@needs_pdftoppm
def test_the_cover_page_shows_the_metadata_and_its_qr_scans(tmp_path: Path) -> None:
    sha = hashlib.sha256(b"a .docx").hexdigest()
    pdf = cover_pdf(META, qr=qr_matrix(LINK), text=TEXT, sha256=sha, file="quyet-dinh.docx (12.345 bytes)")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    shown = ("2392/QĐ-UBND", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "KT. Phó Chủ tịch Nguyễn Văn Dũng", sha[:32])
    for value in shown:
        assert value in text
    assert decode_qr_image(_png(_render(pdf, tmp_path, dpi=300))) == [LINK.encode()]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
