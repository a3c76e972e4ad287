"""What a verification request holds and how its input becomes a payload: pasted text or link, or a QR image.

The kind-specific pipelines (``verifier.document``, ``verifier.credential``) take it from there; the composition
root decides where their trust list, proofs, chain and status lists come from.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PayloadUnrecognized
from .payload import ParsedPayload, parse_payload
from .qr import decode_qr_image

__all__ = ["VerifyRequest", "parsed_input"]


@dataclass(frozen=True)
class VerifyRequest:
    """One verification: a ``payload`` (QR text, link or bare payload) or a QR ``image``; optionally the document
    ``file`` to compare with the signed hash (or only its ``file_sha256``, when the file stays on the client), and
    the ``audience``/``nonce`` a citizen ID presentation must bind."""

    payload: str | None = None
    image: bytes | None = None
    file: bytes | None = None
    audience: str | None = None
    nonce: str | None = None
    file_sha256: bytes | None = None


def parsed_input(request: VerifyRequest, *, max_image_bytes: int | None = None) -> ParsedPayload:
    """The payload to verify: the text if given, else the first QR code in the image that holds a known payload.

    Raises typed 4xx errors: ``PAYLOAD_UNRECOGNIZED``, ``INPUT_TOO_LARGE``, ``IMAGE_INVALID``, ``QR_NOT_FOUND``...
    """
    if request.payload is not None and request.payload.strip():
        return parse_payload(request.payload)
    if request.image is None:
        raise PayloadUnrecognized("give a payload (QR text or link) or a QR image")
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
