"""Errors of the document model and the signed receipt (ledger/documents/metadata.py, ledger/documents/receipt.py).

Input problems are 422s that name the offending field; codes are stable (only ever added, never renamed). Their
base, ``DocumentFieldInvalid``, is defined in ``ledger.errors`` (an anchor proof's fields raise it too).
"""

from __future__ import annotations

from keys.errors import InvalidInput
from ledger.errors import DocumentFieldInvalid, LedgerError

__all__ = [
    "DocumentFieldInvalid",
    "DocumentFieldMissing",
    "DocumentNumberInvalid",
    "DocumentSymbolUnknown",
    "PayloadInvalid",
    "PayloadTooLarge",
    "PayloadVersionUnsupported",
    "ReceiptFieldInvalid",
    "RegistryUnknown",
    "SignerUnsupported",
]


class DocumentFieldMissing(DocumentFieldInvalid):
    """A required document field is missing or empty."""

    code = "DOC_FIELD_MISSING"

    def __init__(self, field: str) -> None:
        super().__init__(field, "is required")


class DocumentNumberInvalid(DocumentFieldInvalid):
    """The document number and symbol do not follow Decree 30/2020/NĐ-CP."""

    code = "DOC_NUMBER_INVALID"

    def __init__(self, message: str, field: str = "number") -> None:
        super().__init__(field, message)


class DocumentSymbolUnknown(DocumentNumberInvalid):
    """The symbol's document type is not one of Decree 30/2020/NĐ-CP: use one of the nearest types the message lists."""

    code = "DOC_SYMBOL_UNKNOWN"

    def __init__(self, typed: str, nearest: list[str]) -> None:
        self.typed = typed
        self.nearest = nearest
        super().__init__(
            f"{typed!r} is not a document type of Decree 30/2020/NĐ-CP (Appendix III); the nearest are"
            f" {', '.join(nearest)}. A công văn has no type: its symbol is the issuing body and the drafting unit,"
            " e.g. 12/UBND-VX"
        )


class ReceiptFieldInvalid(DocumentFieldInvalid):
    """A receipt field cannot be signed or encoded (wrong length, out of range)."""

    code = "RECEIPT_FIELD_INVALID"


class PayloadInvalid(InvalidInput):
    """The document payload is malformed."""

    code = "PAYLOAD_INVALID"


class PayloadVersionUnsupported(PayloadInvalid):
    """The document payload has an unknown version prefix."""

    code = "PAYLOAD_VERSION_UNSUPPORTED"


class PayloadTooLarge(PayloadInvalid):
    """The document payload exceeds the size limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class RegistryUnknown(PayloadInvalid):
    """The payload omits the registry and no default registry was configured to fill it in."""

    code = "PAYLOAD_REGISTRY_UNKNOWN"


class SignerUnsupported(LedgerError):
    """The signer's algorithm or key id cannot be used for receipts."""

    code = "RECEIPT_SIGNER_UNSUPPORTED"
