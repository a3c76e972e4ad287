"""One place that turns the exception tree into HTTP answers: ``{"error": {"code", "message", "lang"}}``, no stack
traces. ``message`` is in the language the request asks for (``Accept-Language``: Vietnamese when it prefers ``vi``,
else English, the exception's own message, which machine clients have always read), from ``keys.error_messages``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keys.api import ErrorResponse, error_responses
from keys.error_messages import code_message, error_dict, field_label, lang_from_accept_language
from keys.errors import XacthucError
from xacthuc.database import StorageUnavailable

log = logging.getLogger("xacthuc.http")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_INPUT",
    429: "RATE_LIMITED",
}


def error_body(code: str, message: str, lang: str = "en") -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "lang": lang}}


def request_lang(request: Request) -> str:
    """``vi`` or ``en``: the language this request's ``Accept-Language`` asks error messages in."""
    return lang_from_accept_language(request.headers.get("accept-language"))


def _validation_fields(exc: RequestValidationError) -> list[str]:
    return [
        ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")) or "request"
        for err in exc.errors()[:5]
    ]


def _validation_message(exc: RequestValidationError, lang: str = "en") -> str:
    fields = _validation_fields(exc)
    if lang != "en":  # pydantic says why in English only: name the fields, in the request's language
        return code_message("INVALID_INPUT", lang, detail=", ".join(field_label(f, lang) for f in fields))
    parts = [f"{loc}: {err.get('msg', 'invalid')}" for loc, err in zip(fields, exc.errors()[:5], strict=True)]
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as ``{"error": {"code", "message"}}``, and make the OpenAPI schema say so."""
    _document_validation_errors(app)

    @app.exception_handler(XacthucError)
    async def _xacthuc(request: Request, exc: XacthucError) -> JSONResponse:
        headers = exc.http_headers() or None
        if exc.http_status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        body = {"error": error_dict(exc, request_lang(request))}
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # The database refused or dropped the connection (a restart, a crash, a failover; SQLite's disk full): the
        # service is unavailable for a moment, not broken. A typed 503 tells clients and load balancers to retry,
        # where a 500 INTERNAL_ERROR would say "a bug" (tests/faults/test_kills.py kills PostgreSQL under load).
        error = StorageUnavailable(code_message(StorageUnavailable.code, "en"))
        log.error("%s: %s", error.code, type(exc.orig).__name__)
        return JSONResponse({"error": error_dict(error, request_lang(request))}, status_code=error.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_lang(request)
        return JSONResponse(error_body("INVALID_INPUT", _validation_message(exc, lang), lang), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        lang = request_lang(request)
        if exc.status_code == 400:
            # Only FastAPI and Starlette raise a 400, for a body they cannot read at all (JSON that is not UTF-8, a
            # broken multipart body). That is invalid input, as a JSON syntax error already is: the 422 every route
            # with a body documents (and /v1/verify, which reads its own body, sends), not an undocumented 400.
            if lang != "en":
                message = code_message("INVALID_INPUT", lang, detail=field_label("body", lang))
            else:
                message = f"body: {exc.detail}" if isinstance(exc.detail, str) else "body: unreadable"
            return JSONResponse(error_body("INVALID_INPUT", message, lang), status_code=422)
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        if lang != "en":
            message = code_message(code, lang, retry_after=(exc.headers or {}).get("Retry-After"))
        else:
            message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        return JSONResponse(error_body(code, message, lang), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        lang = request_lang(request)
        message = code_message("INTERNAL_ERROR", lang) if lang != "en" else "internal error"
        return JSONResponse(error_body("INTERNAL_ERROR", message, lang), status_code=500)


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_OURS = "#/components/schemas/ErrorResponse"


def _document_validation_errors(app: FastAPI) -> None:
    """FastAPI documents its own 422 body (``{"detail": [...]}``) on every route with parameters that does not
    declare a 422 itself; ``_validation`` above sends ours. Routes declare their errors with
    ``keys.api.error_responses``; whatever default is left is replaced here, once, when the schema is built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _replace_default_422(build())
        return build()  # FastAPI's cached schema, now with ours

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_default_422(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(envelope.pop("$defs", {}))
    components.setdefault("ErrorResponse", envelope)
    ours = {
        "description": error_responses(422)[422]["description"],
        "content": {"application/json": {"schema": {"$ref": _OURS}}},
    }
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            default = operation.get("responses", {}).get("422", {})
            if default.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") == _FASTAPI_422:
                operation["responses"]["422"] = ours
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
