"""The root of xacthuc's exception tree and the keys/ branch.

keys/ is the bottom layer that every other part depends on, so the root error lives here; each package adds its
own branch in its own ``errors.py``. Every leaf has a stable ``code`` (only ever added, never renamed: the tests in
``tests/test_error_codes.py`` pin them) and the HTTP status the API answers with.
"""

from __future__ import annotations

from typing import ClassVar


class XacthucError(Exception):
    """Root of every error xacthuc raises on purpose."""

    code: ClassVar[str] = "XACTHUC_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message()
        super().__init__(self.message)

    @classmethod
    def default_message(cls) -> str:
        doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
        return doc.rstrip(".")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInput(XacthucError, ValueError):
    """The input is malformed."""

    code = "INVALID_INPUT"
    http_status = 422


class NotFound(XacthucError, LookupError):
    """The requested object does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class KeystoreError(XacthucError):
    """A key could not be stored, loaded or used."""

    code = "KEYSTORE_ERROR"
    http_status = 500
