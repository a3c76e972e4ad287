"""The error body every route answers with, as OpenAPI sees it: ``{"error": {"code", "message"}}``.

Routes declare the errors they send with ``responses=error_responses(...)``, from the error classes they raise (so
the documented codes are the real ones) or bare statuses; every error status refers to the one
:class:`ErrorResponse` schema, which is exactly what the app's exception handlers send (FastAPI's own validation
errors included).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from keys.errors import Forbidden, Unauthenticated, XacthucError

__all__ = ["AUTH_ERRORS", "Error", "ErrorResponse", "Jwk", "Jwks", "error_responses"]


class Error(BaseModel):
    """What went wrong: a stable machine code (docs/error-codes.md) and a message for people."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable machine code, e.g. DOC_NOT_FOUND: only ever added, never renamed")
    message: str = Field(description="For people; never a stack trace")
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="The input field at fault, when an input error knows it"
    )
    lang: Literal["vi", "en"] = Field(
        default="en",
        description="The language of `message`: `vi` when the request's Accept-Language prefers Vietnamese, else `en`",
    )


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    error: Error


_DESCRIPTIONS = {
    401: "No API key, or one that is unknown, revoked or expired",
    403: "The API key lacks the role this needs, or the object belongs to another agency",
    404: "No such object",
    409: "The object's state does not allow this",
    413: "The request body, or a file or text in it, is over its limit",
    415: "The body is neither JSON nor multipart/form-data",
    422: "The input is invalid: the code names the rule and `field`, when known, the field",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "Something this needs (the chain, a status list) is unavailable; retry later",
}
# Codes the app itself sends for a status on any route: the upload limit, FastAPI's own validation of parameters and
# bodies, the JSON depth limit (xacthuc.app, xacthuc.errors_http).
_ANY_ROUTE = {413: ["PAYLOAD_TOO_LARGE"], 422: ["INVALID_INPUT", "JSON_TOO_DEEP"], 429: ["RATE_LIMITED"]}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": 'Always `Bearer realm="xacthuc"`', "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}

#: What every route behind an API key may answer besides its own errors.
AUTH_ERRORS: tuple[type[XacthucError], ...] = (Unauthenticated, Forbidden)


def error_responses(*sent: type[XacthucError] | int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors a route sends: error classes (grouped by their ``http_status``, their
    codes listed) or bare statuses, each with the :class:`ErrorResponse` body."""
    codes: dict[int, list[str]] = {}
    for item in sent:
        status = item if isinstance(item, int) else item.http_status
        named = codes.setdefault(status, list(_ANY_ROUTE.get(status, [])))
        if not isinstance(item, int) and item.code not in named:
            named.append(item.code)
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(codes):
        description = _DESCRIPTIONS[status]
        if codes[status]:
            description += ". Codes: " + ", ".join(f"`{c}`" for c in codes[status])
        out[status] = {"model": ErrorResponse, "description": description}
        if status in _HEADERS:
            out[status]["headers"] = _HEADERS[status]
    return out


class Jwk(BaseModel):
    """A public signing key (RFC 7517): P-256 (``EC``, with ``y``) or Ed25519 (``OKP``)."""

    model_config = ConfigDict(extra="forbid")

    kty: Literal["EC", "OKP"]
    crv: Literal["P-256", "Ed25519"]
    x: str
    y: str | SkipJsonSchema[None] = None
    kid: str = Field(description="The RFC 7638 thumbprint, base64url")
    alg: Literal["ES256", "EdDSA"]
    use: Literal["sig"]


class Jwks(BaseModel):
    """A JWK set (RFC 7517)."""

    model_config = ConfigDict(extra="forbid")

    keys: list[Jwk]
