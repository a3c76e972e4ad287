"""Errors of the register of offices and delegations (``ledger.offices``).

Two families: writing the register (a field that is not valid, an office or delegation that does not exist or is
already over), and a signer the register does not cover (what issuing refuses with and what the ``signer_authority``
check reports, under the same codes).
"""

from __future__ import annotations

from typing import Any

from keys.errors import InvalidInput, NotFound
from ledger.errors import LedgerError

__all__ = [
    "AUTHORITY_ERRORS",
    "DelegationAlreadyRevoked",
    "DelegationExpired",
    "DelegationMissing",
    "DelegationNotCovering",
    "DelegationNotFound",
    "DelegationRevoked",
    "OfficeAlreadyEnded",
    "OfficeEntryPending",
    "OfficeError",
    "OfficeFieldInvalid",
    "OfficeNotFound",
    "OfficeRegisterConflict",
    "SignerAuthorityError",
    "SignerNotInOffice",
    "SigningFormNotAllowed",
]


class OfficeError(LedgerError):
    """The register of offices and delegations could not be used."""

    code = "OFFICE_ERROR"
    http_status = 500


class OfficeFieldInvalid(OfficeError, InvalidInput):
    """A field of an office or a delegation is invalid (``field`` names it)."""

    code = "OFFICE_FIELD_INVALID"
    http_status = 422

    def __init__(self, field: str, message: str | None = None) -> None:
        if message is None:  # only a message: no field to name
            self.field: str | None = None
            super().__init__(field)
            return
        self.field = field
        super().__init__(f"{field}: {message}")


class OfficeNotFound(OfficeError, NotFound):
    """The agency's register has no such office."""

    code = "OFFICE_NOT_FOUND"
    http_status = 404


class DelegationNotFound(OfficeError, NotFound):
    """The agency's register has no such delegation."""

    code = "DELEGATION_NOT_FOUND"
    http_status = 404


class OfficeAlreadyEnded(OfficeError):
    """The office has already ended in the register."""

    code = "OFFICE_ALREADY_ENDED"
    http_status = 409


class DelegationAlreadyRevoked(OfficeError):
    """The delegation has already been revoked in the register."""

    code = "DELEGATION_ALREADY_REVOKED"
    http_status = 409


class OfficeRegisterConflict(OfficeError):
    """Another change to the agency's register was written at the same moment; send this one again."""

    code = "OFFICE_REGISTER_CONFLICT"
    http_status = 409


class SignerAuthorityError(OfficeError, InvalidInput):
    """The register does not cover the document's signer on its date (``reason`` says why, ``data`` what was found)."""

    code = "SIGNER_AUTHORITY_INVALID"
    http_status = 422

    def __init__(self, message: str | None = None, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = dict(data or {})


class SignerNotInOffice(SignerAuthorityError):
    """The signer did not hold the title in the agency's register on the signing date."""

    code = "SIGNER_NOT_IN_OFFICE"


class SigningFormNotAllowed(SignerAuthorityError):
    """The signer held the office, but its holder may not sign in this form (TM., KT., Q. or none)."""

    code = "SIGNING_FORM_NOT_ALLOWED"


class DelegationMissing(SignerAuthorityError):
    """The register has no delegation (TL. or TUQ.) for the signer."""

    code = "DELEGATION_MISSING"


class DelegationExpired(SignerAuthorityError):
    """The signer's delegation had ended before the signing date."""

    code = "DELEGATION_EXPIRED"


class DelegationRevoked(SignerAuthorityError):
    """The signer's delegation had been revoked before the signing date."""

    code = "DELEGATION_REVOKED"


class DelegationNotCovering(SignerAuthorityError):
    """The signer's delegation does not cover this document (its type, or a date before it starts)."""

    code = "DELEGATION_NOT_COVERING"


class OfficeEntryPending(OfficeError):
    """The register entry that covers the signer is not anchored yet; issue the document once it is (seconds)."""

    code = "OFFICE_ENTRY_PENDING"
    http_status = 409


#: The codes a signer the register does not cover is refused (and reported) with, to their classes.
AUTHORITY_ERRORS: dict[str, type[SignerAuthorityError]] = {
    cls.code: cls
    for cls in (
        SignerNotInOffice,
        SigningFormNotAllowed,
        DelegationMissing,
        DelegationExpired,
        DelegationRevoked,
        DelegationNotCovering,
    )
}
