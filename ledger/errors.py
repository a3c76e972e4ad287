"""Errors of ledger/: documents, Merkle proofs, the chain and anchoring."""

from __future__ import annotations

from keys.errors import XacthucError


class LedgerError(XacthucError):
    """A ledger operation failed."""

    code = "LEDGER_ERROR"
    http_status = 500
