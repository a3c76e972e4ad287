"""Errors of verifier/: unreadable inputs (images, QR texts) and failures to reach what a check needs.

A failed *check* is not an exception: it is a result in the report. These errors are for inputs the verifier cannot
even start on (4xx) and for the chain being unreachable (which checks report as ``error``).
"""

from __future__ import annotations

from keys.errors import InvalidInput, NotFound, XacthucError


class VerificationError(XacthucError):
    """Verification could not be carried out."""

    code = "VERIFICATION_ERROR"
    http_status = 500


class InputTooLarge(VerificationError, InvalidInput):
    """The input exceeds the size limit."""

    code = "INPUT_TOO_LARGE"
    http_status = 413


class ImageTooLarge(InputTooLarge):
    """The image is too large (bytes or pixels) to decode safely."""

    code = "IMAGE_TOO_LARGE"


class ImageInvalid(VerificationError, InvalidInput):
    """The image cannot be read (unknown format, truncated or corrupt)."""

    code = "IMAGE_INVALID"
    http_status = 422


class QRNotFound(VerificationError, InvalidInput):
    """No QR code was found in the image."""

    code = "QR_NOT_FOUND"
    http_status = 422


class PayloadUnrecognized(VerificationError, InvalidInput):
    """The text is neither a verification link nor a known payload."""

    code = "PAYLOAD_UNRECOGNIZED"
    http_status = 422


class ProofUnavailable(VerificationError):
    """The document's Merkle proof could not be looked up."""

    code = "PROOF_UNAVAILABLE"
    http_status = 503


class PresentationRequestNotFound(VerificationError, NotFound):
    """No presentation request has this id."""

    code = "PRESENTATION_REQUEST_NOT_FOUND"
    http_status = 404


class PresentationClaimsInvalid(VerificationError, InvalidInput):
    """The presentation request must name one or more claims of the citizen ID, each once."""

    code = "PRESENTATION_CLAIMS_INVALID"
    http_status = 422
    field = "claims"
