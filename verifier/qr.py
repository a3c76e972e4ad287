"""QR codes: render verification links (PNG, SVG) at error correction M, and decode QR codes from photos safely.

Rendering splits the text into QR segments: the long upper-case payload after ``#`` goes in alphanumeric mode
(5.5 bits a character instead of 8), which is what keeps a typical decision's QR code at version 11.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from keys.limits import QR_IMAGE_BYTES, QR_IMAGE_PIXELS

from .errors import ImageInvalid, ImageTooLarge, QRNotFound

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "decode_qr_image",
    "qr_matrix",
    "qr_png",
    "qr_segments",
    "qr_svg",
    "qr_version",
]

DEFAULT_MAX_BYTES = QR_IMAGE_BYTES
DEFAULT_MAX_PIXELS = QR_IMAGE_PIXELS
ECC = "m"
BORDER = 4  # the quiet zone the standard asks for, in modules
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
# A run of alphanumeric characters pays its own segment header (4 + 11 bits) plus, mid-text, the header of the
# byte segment that resumes after it (4 + 16 bits); it saves 2.5 bits a character, so short runs stay in byte mode.
_MIN_RUN_MID = 16
_MIN_RUN_END = 8
_QR_ONLY = zxingcpp.barcode_formats_from_str("QRCode")


def qr_segments(text: str) -> list[str]:
    """Split ``text`` into segments: long runs of QR-alphanumeric characters on their own, the rest together."""
    runs: list[tuple[bool, str]] = []
    for ch in text:
        is_alnum = ch in _ALNUM
        if runs and runs[-1][0] == is_alnum:
            runs[-1] = (is_alnum, runs[-1][1] + ch)
        else:
            runs.append((is_alnum, ch))
    segments: list[str] = []
    pending = ""
    for i, (is_alnum, run) in enumerate(runs):
        threshold = _MIN_RUN_END if i == len(runs) - 1 else _MIN_RUN_MID
        if is_alnum and len(run) >= threshold:
            if pending:
                segments.append(pending)
                pending = ""
            segments.append(run)
        else:
            pending += run
    if pending:
        segments.append(pending)
    return segments


def _make(text: str) -> Any:
    # segno takes a list of segments (each gets its best mode) though its annotations say one value.
    segments: Any = qr_segments(text)
    return segno.make(segments, error=ECC, boost_error=False, micro=False)


def qr_version(text: str) -> int:
    """The QR version (1-40) ``text`` needs at error correction M."""
    return int(_make(text).version)


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """A PNG of the QR code for ``text`` (ECC M, 4-module quiet zone), ``scale`` pixels a module."""
    out = io.BytesIO()
    _make(text).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def qr_svg(text: str, *, scale: int = 8) -> str:
    """An SVG of the QR code for ``text`` (ECC M, 4-module quiet zone)."""
    out = io.BytesIO()
    _make(text).save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False, svgclass=None, lineclass=None)
    return out.getvalue().decode("utf-8")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
            # The header gives the size before any pixel is decompressed: refuse bombs here.
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageTooLarge(f"image has {width}x{height} pixels; the limit is {max_pixels}")
            image.load()
    except ImageTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("image is a decompression bomb") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageInvalid(f"image cannot be read: {type(exc).__name__}") from None
    return image


def decode_qr_image(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[bytes]:
    """The raw contents of every QR code in an image (PNG, JPEG, WebP, GIF, BMP; photos included).

    Raises :class:`ImageTooLarge` past ``max_bytes`` or ``max_pixels`` (checked from the header, before decoding),
    :class:`ImageInvalid` for unreadable data, :class:`QRNotFound` when the image holds no QR code.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is larger than {max_bytes} bytes")
    image = _open(data, max_pixels)
    try:
        gray = image.convert("L")
        results = zxingcpp.read_barcodes(gray, formats=_QR_ONLY)
    except (OSError, ValueError) as exc:
        raise ImageInvalid(f"image cannot be read: {type(exc).__name__}") from None
    found = [bytes(r.bytes) for r in results if r.valid]
    if not found:
        raise QRNotFound()
    return found


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code for ``text`` (ECC M) as rows of modules, True for dark, with its 4-module quiet zone: what the
    stamped PDF draws (``ledger.pdf``), the same code as :func:`qr_png`."""
    return [[bool(v) for v in row] for row in _make(text).matrix_iter(border=BORDER)]
