"""QR rendering (size, formats) and decoding from photos, with refusal of huge images and decompression bombs."""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageFilter

from ledger.documents.receipt import encode_payload, sign_receipt, verify_link
from tests.ledger.test_receipt_fixtures import ES256_SIGNER, REGISTRY, fields
from verifier.errors import ImageInvalid, ImageTooLarge, QRNotFound
from verifier.qr import decode_qr_image, qr_png, qr_segments, qr_svg, qr_version

PUBLIC_URL = "https://xacthuc.hochiminhcity.gov.vn"
LINK = verify_link(PUBLIC_URL, encode_payload(sign_receipt(ES256_SIGNER, fields()), registry=REGISTRY))


def test_typical_decision_fits_version_12() -> None:
    assert qr_version(LINK) <= 12
    assert qr_version(LINK) == 11  # measured; docs/qr-payload.md
    # The same text forced into one byte-mode segment needs a bigger symbol: the segmenting is what pays.
    import segno

    assert segno.make(LINK, error="m", boost_error=False).version > qr_version(LINK)


def test_segments_split_at_the_payload() -> None:
    assert qr_segments(LINK) == [PUBLIC_URL + "/v#", LINK.split("#", 1)[1]]
    assert qr_segments("hello") == ["hello"]
    assert qr_segments("") == []
    assert "".join(qr_segments("ab" + "C" * 20 + "d" + "E" * 3)) == "ab" + "C" * 20 + "d" + "E" * 3


def test_png_round_trip() -> None:
    png = qr_png(LINK)
    assert png.startswith(b"\x89PNG")
    assert decode_qr_image(png) == [LINK.encode()]


def test_svg_has_quiet_zone_and_no_xml_declaration() -> None:
    svg = qr_svg(LINK, scale=1)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    size = 4 * qr_version(LINK) + 17 + 2 * 4
    assert f'width="{size}"' in svg


def test_bytes_not_text_are_returned() -> None:
    # Byte-mode content that is not valid in the QR default charset comes back as the exact bytes.
    text = "https://h/v#Ủy ban"
    assert decode_qr_image(qr_png(text)) == [text.encode("utf-8")]


# ------------------------------------------------------------------------------------------------------ photos
def _photo_base(scale: int = 6) -> Image.Image:
    qr = Image.open(io.BytesIO(qr_png(LINK, scale=scale))).convert("L")
    canvas = Image.new("L", (qr.width + 160, qr.height + 160), 235)  # off-white paper
    canvas.paste(qr, (80, 80))
    return canvas


def _rotate(img: Image.Image) -> Image.Image:
    return img.rotate(17, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=235)


def _perspective(img: Image.Image) -> Image.Image:
    w, h = img.size
    # Output (x, y) samples input ((ax+by+c)/(gx+hy+1), (dx+ey+f)/(gx+hy+1)): a camera held at an angle.
    coeffs = (1.05, 0.12, -30.0, 0.04, 1.1, -25.0, 0.00025, 0.00012)
    return img.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=235)


def _noise(img: Image.Image) -> Image.Image:
    rng = random.Random(7)
    noise = Image.effect_noise(img.size, 40).convert("L")
    out = Image.blend(img, noise, 0.25)
    px = out.load()
    assert px is not None
    for _ in range(img.width * img.height // 50):  # 2% salt and pepper
        px[rng.randrange(img.width), rng.randrange(img.height)] = rng.choice((0, 255))
    return out.filter(ImageFilter.GaussianBlur(0.8))


def _downscale(img: Image.Image) -> Image.Image:
    # about 2.3 pixels a module: a small QR code in a wide shot
    return img.resize((img.width * 2 // 5, img.height * 2 // 5), Image.Resampling.BILINEAR)


def _jpeg(img: Image.Image, quality: int = 40) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


PHOTOS: dict[str, Callable[[Image.Image], bytes]] = {
    "rotated-17deg": lambda i: _png(_rotate(i)),
    "perspective": lambda i: _png(_perspective(i)),
    "noise": lambda i: _png(_noise(i)),
    "jpeg-40": _jpeg,
    "downscaled": lambda i: _png(_downscale(i)),
    "all-of-them": lambda i: _jpeg(_downscale(_noise(_perspective(_rotate(i))))),
}


@pytest.mark.parametrize("name", list(PHOTOS))
def test_photos_decode(name: str) -> None:
    data = PHOTOS[name](_photo_base())
    assert decode_qr_image(data) == [LINK.encode()]


def test_two_codes_in_one_image() -> None:
    a = Image.open(io.BytesIO(qr_png("https://h/v#XD1:AAA", scale=4))).convert("L")
    b = Image.open(io.BytesIO(qr_png("https://h/v#XD1:BBB", scale=4))).convert("L")
    canvas = Image.new("L", (a.width + b.width + 40, max(a.height, b.height) + 40), 255)
    canvas.paste(a, (10, 20))
    canvas.paste(b, (a.width + 30, 20))
    assert sorted(decode_qr_image(_png(canvas))) == [b"https://h/v#XD1:AAA", b"https://h/v#XD1:BBB"]


# ----------------------------------------------------------------------------------------------------- refusals
def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb_refused_from_the_header() -> None:
    bomb = _png_header_only(100_000, 100_000)  # 10 gigapixels in a few dozen bytes
    assert len(bomb) < 200
    with pytest.raises(ImageTooLarge) as info:
        decode_qr_image(bomb)
    assert info.value.code == "IMAGE_TOO_LARGE" and info.value.http_status == 413


def test_pixel_and_byte_limits() -> None:
    png = qr_png(LINK)
    with pytest.raises(ImageTooLarge):
        decode_qr_image(png, max_pixels=100)
    with pytest.raises(ImageTooLarge):
        decode_qr_image(png, max_bytes=len(png) - 1)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, qr_png("x")[:120], b"%PDF-1.7\n"],
    ids=["empty", "text", "bad-png", "truncated-png", "pdf"],
)
def test_unreadable_images(data: bytes) -> None:
    with pytest.raises(ImageInvalid) as info:
        decode_qr_image(data)
    assert info.value.http_status == 422


def test_image_without_a_qr_code() -> None:
    with pytest.raises(QRNotFound) as info:
        decode_qr_image(_png(Image.effect_noise((200, 200), 60).convert("L")))
    assert info.value.code == "QR_NOT_FOUND"
