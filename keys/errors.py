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
        """The API's error object; input errors that know which field was wrong also name it."""
        out = {"code": self.code, "message": self.message}
        field = getattr(self, "field", None)
        if isinstance(field, str):
            out["field"] = field
        return out

    def http_headers(self) -> dict[str, str]:
        """Extra response headers the HTTP layer should send with this error (``WWW-Authenticate`` for 401)."""
        return {}


class InvalidInput(XacthucError, ValueError):
    """The input is malformed."""

    code = "INVALID_INPUT"
    http_status = 422


class JsonTooDeep(InvalidInput):
    """The JSON nests too deeply."""

    code = "JSON_TOO_DEEP"
    http_status = 422

    def __init__(self, message: str | None = None, *, max_depth: int | None = None) -> None:
        super().__init__(message)
        self.max_depth = max_depth


class NotFound(XacthucError, LookupError):
    """The requested object does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class KeystoreError(XacthucError):
    """A key could not be stored, loaded or used."""

    code = "KEYSTORE_ERROR"
    http_status = 500


# --- keystore -------------------------------------------------------------------------------------------------------


class KeystoreUnlockFailed(KeystoreError):
    """Unlocking the keystore failed."""

    code = "KEYSTORE_UNLOCK_FAILED"
    http_status = 500


class KeystoreCorrupt(KeystoreError):
    """A keystore file is truncated, altered or unreadable."""

    code = "KEYSTORE_CORRUPT"
    http_status = 500

    def __init__(self, message: str | None = None, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class KeystoreExists(KeystoreError):
    """A keystore already exists there."""

    code = "KEYSTORE_EXISTS"
    http_status = 409


class KeystorePassphraseMissing(KeystoreError):
    """No usable keystore passphrase was given."""

    code = "KEYSTORE_PASSPHRASE_MISSING"
    http_status = 500


class CityNotFound(KeystoreError, LookupError):
    """The data directory holds no city (no keystore)."""

    code = "CITY_NOT_FOUND"
    http_status = 500

    def __init__(self, message: str | None = None, *, data_dir: str | None = None) -> None:
        super().__init__(message)
        self.data_dir = data_dir


class KeyNotFound(KeystoreError, LookupError):
    """No such key."""

    code = "KEY_NOT_FOUND"
    http_status = 404

    def __init__(self, message: str | None = None, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class NoActiveKey(KeystoreError):
    """The key ring has no active key valid now."""

    code = "KEY_NO_ACTIVE"
    http_status = 409


# --- signatures and key validity --------------------------------------------------------------------------------------


class SignatureError(XacthucError, ValueError):
    """A signed token could not be verified."""

    code = "SIGNATURE_ERROR"
    http_status = 400


class JwsMalformed(SignatureError):
    """The token is not a well-formed compact JWS."""

    code = "JWS_MALFORMED"


class JwsAlgorithmRejected(SignatureError):
    """The token's algorithm is not allowed for this key."""

    code = "JWS_ALG_REJECTED"


class JwsHeaderRejected(SignatureError):
    """The token's header asks for something we refuse (remote keys, embedded keys, critical extensions)."""

    code = "JWS_HEADER_REJECTED"


class JwsSignatureInvalid(SignatureError):
    """The signature does not verify."""

    code = "JWS_SIGNATURE_INVALID"


class UnknownKey(SignatureError):
    """The issuer has no key with this kid."""

    code = "KEY_UNKNOWN"

    def __init__(self, message: str | None = None, *, issuer_id: str | None = None, kid: str | None = None) -> None:
        super().__init__(message)
        self.issuer_id = issuer_id
        self.kid = kid


class KeyNotValidAt(SignatureError):
    """The key was not valid at the signing time."""

    code = "KEY_NOT_VALID_AT"

    def __init__(self, message: str | None = None, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


class KeyCompromised(SignatureError):
    """The key is compromised and nothing proves the signature predates the compromise."""

    code = "KEY_COMPROMISED"

    def __init__(self, message: str | None = None, *, kid: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid


# --- trust list -----------------------------------------------------------------------------------------------------


class TrustListError(SignatureError):
    """The trust list is not acceptable."""

    code = "TRUST_LIST_ERROR"


class TrustListInvalid(TrustListError):
    """The trust list's content is inconsistent."""

    code = "TRUST_LIST_INVALID"


class TrustListExpired(TrustListError):
    """The trust list has expired."""

    code = "TRUST_LIST_EXPIRED"


class TrustListRollback(TrustListError):
    """The trust list is older than one already seen."""

    code = "TRUST_LIST_ROLLBACK"


# --- agencies and API credentials -----------------------------------------------------------------------------------


class Unauthenticated(XacthucError):
    """Missing or invalid API key."""

    code = "UNAUTHENTICATED"
    http_status = 401

    def http_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="xacthuc"'}


class Forbidden(XacthucError):
    """The API key lacks the role this needs."""

    code = "FORBIDDEN"
    http_status = 403

    def __init__(self, message: str | None = None, *, role: str | None = None) -> None:
        super().__init__(message)
        self.role = role


class AgencyNotFound(NotFound):
    """No such agency."""

    code = "AGENCY_NOT_FOUND"


class AgencyExists(XacthucError):
    """An agency with this id already exists."""

    code = "AGENCY_EXISTS"
    http_status = 409


class ApiKeyNotFound(NotFound):
    """No such API key."""

    code = "API_KEY_NOT_FOUND"


class KeyRoleNotAllowed(SignatureError):
    """The issuer is not trusted for this kind of signature."""

    code = "KEY_ROLE_NOT_ALLOWED"
