"""The identity/ branch of the error tree: citizen input, credentials, presentations, transport, status lists.

Codes are stable: only ever added, never renamed (``tests/identity/test_errors.py`` pins them).
"""

from __future__ import annotations

from typing import ClassVar

from keys.errors import InvalidInput, NotFound, XacthucError


class CredentialError(XacthucError):
    """A digital ID operation failed."""

    code: ClassVar[str] = "CREDENTIAL_ERROR"
    http_status: ClassVar[int] = 400


class CitizenInputError(CredentialError, InvalidInput):
    """A citizen field is invalid. ``field`` names it (``cccd``, ``birth_date``, ``sex``, ...)."""

    code = "CITIZEN_INPUT_INVALID"
    http_status = 422

    def __init__(self, field: str, message: str | None = None) -> None:
        self.field = field
        super().__init__(message or f"{field} is invalid")

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "field": self.field}


class CccdInvalid(CitizenInputError):
    """The CCCD number is not 12 digits with a known province code."""

    code = "CCCD_INVALID"


class CccdMismatch(CitizenInputError):
    """The CCCD number contradicts the birth date or sex."""

    code = "CCCD_MISMATCH"


class CitizenExists(CredentialError):
    """A citizen with this CCCD number is already registered."""

    code = "CITIZEN_EXISTS"
    http_status = 409


class CitizenNotFound(CredentialError, NotFound):
    """No such citizen."""

    code = "CITIZEN_NOT_FOUND"
    http_status = 404


class CredentialNotFound(CredentialError, NotFound):
    """No such credential."""

    code = "CREDENTIAL_NOT_FOUND"
    http_status = 404


class StatusListNotFound(CredentialError, NotFound):
    """No such status list."""

    code = "STATUS_LIST_NOT_FOUND"
    http_status = 404


class StatusListFull(CredentialError):
    """No free index is left in the status lists."""

    code = "STATUS_LIST_FULL"
    http_status = 503


class HolderKeyInvalid(CredentialError, InvalidInput):
    """The holder key is not a public P-256 or Ed25519 JWK."""

    code = "HOLDER_KEY_INVALID"
    http_status = 422


class SdJwtMalformed(CredentialError, InvalidInput):
    """The SD-JWT is malformed."""

    code = "SDJWT_MALFORMED"
    http_status = 422


class DisclosureInvalid(SdJwtMalformed):
    """A disclosure is malformed or does not belong to the credential."""

    code = "DISCLOSURE_INVALID"

    def __init__(self, message: str | None = None, claim: str | None = None) -> None:
        self.claim = claim
        super().__init__(message)


class ClaimNotAvailable(CredentialError, InvalidInput):
    """The credential has no disclosure for a requested claim."""

    code = "CLAIM_NOT_AVAILABLE"
    http_status = 422

    def __init__(self, claim: str) -> None:
        self.claim = claim
        super().__init__(f"the credential cannot disclose {claim!r}")


class TransportError(CredentialError, InvalidInput):
    """The QR payload cannot be decoded."""

    code = "TRANSPORT_INVALID"
    http_status = 422


class TransportTooLarge(TransportError):
    """The QR payload, or what it decompresses to, exceeds the size limit."""

    code = "TRANSPORT_TOO_LARGE"
    http_status = 413


class StatusListInvalid(CredentialError, InvalidInput):
    """The status list token is malformed."""

    code = "STATUS_LIST_INVALID"
    http_status = 422


class WalletError(CredentialError):
    """The wallet could not be used."""

    code = "WALLET_ERROR"
    http_status = 400


class WalletLocked(WalletError):
    """The wallet could not be unlocked."""

    code = "WALLET_UNLOCK_FAILED"
    http_status = 401
