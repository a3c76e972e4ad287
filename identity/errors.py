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


class Oid4vciError(CredentialError):
    """An OpenID4VCI request was refused (the OAuth error and its description say why)."""

    code = "OID4VCI_ERROR"
    http_status = 400

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        # ``error`` is the OAuth error code the specs name (invalid_grant, invalid_proof, ...); ``status`` the HTTP
        # status the OAuth-style endpoints answer with (401 for invalid_token, 404 for an offer that is gone).
        self.error = error
        self.description = description
        self.status = status
        super().__init__(description)

    def to_oauth(self) -> dict[str, str]:
        """The body the OpenID4VCI and OAuth endpoints answer with."""
        return {"error": self.error, "error_description": self.description}


class WalletError(CredentialError):
    """The wallet could not be used."""

    code = "WALLET_ERROR"
    http_status = 400


class WalletLocked(WalletError):
    """The wallet could not be unlocked."""

    code = "WALLET_UNLOCK_FAILED"
    http_status = 401


# --- the holder side of OpenID4VCI and OpenID4VP (identity/holder/) ---------------------------------------------------


class WalletLinkInvalid(WalletError, InvalidInput):
    """The link is not a credential offer or presentation request the wallet can open."""

    code = "WALLET_LINK_INVALID"
    http_status = 422


class OfferUnavailable(WalletError):
    """The credential offer has expired, was already used or was cancelled: ask the clerk for a new one."""

    code = "OFFER_UNAVAILABLE"
    http_status = 410


class TxCodeWrong(WalletError):
    """The transaction code is wrong or missing.

    ``tries_left`` says how many tries the offer still allows, when the issuer said it."""

    code = "TX_CODE_WRONG"
    http_status = 400

    def __init__(self, message: str | None = None, *, tries_left: int | None = None) -> None:
        self.tries_left = tries_left
        super().__init__(message)


class IssuerError(WalletError):
    """The issuer could not be reached, refused the request, or answered something the wallet cannot use."""

    code = "ISSUER_ERROR"
    http_status = 502


class RequestObjectInvalid(WalletError):
    """The presentation request is not validly signed by the verifier it names, or is not one the wallet can answer."""

    code = "REQUEST_OBJECT_INVALID"
    http_status = 502


class VerifierError(WalletError):
    """The verifier could not be reached or refused the wallet's answer."""

    code = "VERIFIER_ERROR"
    http_status = 502
