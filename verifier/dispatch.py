"""What a verification request holds and how its input becomes a payload: pasted text or link, or a QR image.

The kind-specific pipelines (``verifier.document``, ``verifier.credential``) take it from there; the composition
root decides where their trust list, proofs, chain and status lists come from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import PayloadUnrecognized
from .payload import ParsedPayload, parse_payload
from .pdf import PdfStamp, find_stamp
from .qr import decode_qr_image

__all__ = ["VerifyRequest", "parsed_input", "with_pdf_stamp"]


@dataclass(frozen=True)
class VerifyRequest:
    """One verification: a ``payload`` (QR text, link or bare payload) or a QR ``image``; optionally the document
    ``file`` to compare with the signed hash (or only its ``file_sha256``, when the file stays on the client), and
    the ``audience``/``nonce`` a citizen ID presentation must bind. ``pdf_stamp``: the file is a stamped PDF
    (``verifier.pdf``): its payload stands for a QR code, and its original range is what ``file_matches`` hashes."""

    payload: str | None = None
    image: bytes | None = None
    file: bytes | None = None
    audience: str | None = None
    nonce: str | None = None
    file_sha256: bytes | None = None
    pdf_stamp: PdfStamp | None = None


def with_pdf_stamp(request: VerifyRequest) -> VerifyRequest:
    """``request`` with the stamp of its file when the file is a stamped PDF (found by a byte search, no rendering)."""
    if request.file is None or request.pdf_stamp is not None:
        return request
    stamp = find_stamp(request.file)
    return request if stamp is None else replace(request, pdf_stamp=stamp)


def parsed_input(request: VerifyRequest, *, max_image_bytes: int | None = None) -> ParsedPayload:
    """The payload to verify: the text if given, else the first QR code in the image that holds a known payload.

    Raises typed 4xx errors: ``PAYLOAD_UNRECOGNIZED``, ``INPUT_TOO_LARGE``, ``IMAGE_INVALID``, ``QR_NOT_FOUND``...
    """
    if request.payload is not None and request.payload.strip():
        return parse_payload(request.payload)
    if request.image is None:
        if request.pdf_stamp is not None and request.pdf_stamp.payload is not None:
            return parse_payload(request.pdf_stamp.payload)
        raise PayloadUnrecognized("give a payload (QR text or link), a QR image or a stamped PDF")
    codes = (
        decode_qr_image(request.image)
        if max_image_bytes is None
        else decode_qr_image(request.image, max_bytes=max_image_bytes)
    )
    last: PayloadUnrecognized | None = None
    for content in codes:
        try:
            return parse_payload(content)
        except PayloadUnrecognized as exc:
            last = exc
    assert last is not None  # decode_qr_image never returns an empty list
    raise PayloadUnrecognized(f"the QR code holds no xacthuc payload: {last.message}")
