"""Thin HTTP layer over the verifier: ``POST /v1/verify`` (JSON or multipart); the pages live in ``xacthuc.web``.

The verification itself is an injected callable (the composition root decides where the trust list, proofs, chain
and status lists come from); this module only turns requests into a :class:`VerifyRequest` and reports into JSON.
A request the verifier cannot even start on is a typed 4xx; a document that fails its checks is a 200 report.
"""
# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from keys.api import error_responses
from keys.errors import InvalidInput
from keys.limits import VERIFY_TEXT_CHARS
from ledger.errors import ChainUnavailable
from verifier.api.schema import VerificationReport
from verifier.dispatch import VerifyRequest
from verifier.errors import (
    ImageInvalid,
    ImageTooLarge,
    InputTooLarge,
    PayloadUnrecognized,
    QRNotFound,
    VerificationError,
)
from verifier.messages import CHECK_MESSAGES, CHECK_NAMES, VERDICTS
from verifier.pdf import PdfStamp
from verifier.report import Report

_TEXT_FIELDS = ("payload", "audience", "nonce", "sha256")
_MAX_TEXT = VERIFY_TEXT_CHARS
_SHA256 = re.compile(r"[0-9a-f]{64}")


class UnsupportedMediaType(VerificationError, InvalidInput):
    """The request body is neither JSON nor multipart/form-data."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


_TEXT_SCHEMA = {"type": "string", "maxLength": _MAX_TEXT}
_SHA256_SCHEMA = {
    "type": "string",
    "pattern": "^[0-9a-f]{64}$",
    "description": "The document file's SHA-256 (lowercase hex), when the file stays on the client: `file_matches`"
    " compares it as it would the file. Not together with `file`.",
}
_FIELD_SCHEMAS = {f: _SHA256_SCHEMA if f == "sha256" else _TEXT_SCHEMA for f in _TEXT_FIELDS}
_OFFSET = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
_PDF_STAMP_SCHEMA = {
    "type": "object",
    "description": "With `sha256`, when the file is a stamped PDF (docs/qr-payload.md) and stays on the client:"
    " `sha256` is then the hash of its first `original_length` bytes, and `stamp_end` (the end of the stamp's"
    " update) and `length` (the file's) tell whether it was changed after it was stamped.",
    "properties": {"original_length": _OFFSET, "stamp_end": _OFFSET, "length": _OFFSET},
    "required": ["original_length", "stamp_end", "length"],
    "additionalProperties": False,
}
_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {**_FIELD_SCHEMAS, "pdf_stamp": _PDF_STAMP_SCHEMA},
                    "required": ["payload"],
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "file": {"type": "string", "format": "binary"},
                        **_FIELD_SCHEMAS,
                        "pdf_stamp": {"type": "string", "description": "`pdf_stamp` as a JSON text (with `sha256`)"},
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}
_VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": VerificationReport, "description": "The report, whatever its verdict"},
    **error_responses(
        InputTooLarge,
        ImageTooLarge,
        413,
        UnsupportedMediaType,
        PayloadUnrecognized,
        QRNotFound,
        ImageInvalid,
    ),
}


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: must be a string")
    if len(value) > _MAX_TEXT:
        raise InputTooLarge(f"{name}: longer than {_MAX_TEXT} characters")
    return value


def _sha256(value: str | None) -> bytes | None:
    if value is None:
        return None
    if not _SHA256.fullmatch(value):
        raise InvalidInput("sha256: must be 64 lowercase hexadecimal digits (the file's SHA-256)")
    return bytes.fromhex(value)


def _pdf_stamp(value: Any) -> PdfStamp | None:
    if value is None:
        return None
    keys = ("original_length", "stamp_end", "length")
    if not isinstance(value, dict) or set(value) != set(keys):
        raise InvalidInput("pdf_stamp: must be an object with original_length, stamp_end and length")
    numbers = [value[k] for k in keys]
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**53 for n in numbers):
        raise InvalidInput("pdf_stamp: offsets must be non-negative integers")
    original, end, length = numbers
    if not 0 < original < end <= length:
        raise InvalidInput("pdf_stamp: expected 0 < original_length < stamp_end <= length")
    return PdfStamp(original_length=original, stamp_end=end, length=length)


def _json_field(value: Any) -> Any:
    if value is None:
        return None
    text = _text(value if isinstance(value, str) else None, "pdf_stamp")
    try:
        return json.loads(text) if text is not None else ...
    except ValueError:
        raise InvalidInput("pdf_stamp: must be a JSON object") from None


def _stamp_with_hash(stamp: PdfStamp | None, sha256: bytes | None) -> PdfStamp | None:
    if stamp is not None and sha256 is None:
        raise InvalidInput("pdf_stamp: give it with sha256, the hash of the stamped PDF's original range")
    return stamp


def request_from_json(body: bytes) -> VerifyRequest:
    """The verification a JSON body asks for (the route's and the fast path's one reading of it)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return VerifyRequest(
        payload=_text(data.get("payload"), "payload"),
        audience=_text(data.get("audience"), "audience"),
        nonce=_text(data.get("nonce"), "nonce"),
        file_sha256=(file_sha256 := _sha256(_text(data.get("sha256"), "sha256"))),
        pdf_stamp=_stamp_with_hash(_pdf_stamp(data.get("pdf_stamp")), file_sha256),
    )


async def _read(value: Any, name: str, limit: int) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidInput(f"{name}: must be a file upload")
    assert isinstance(value, UploadFile)
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"{name}: larger than {limit} bytes")
    return data


async def _from_form(request: Request, file_limit: int, image_limit: int) -> VerifyRequest:
    try:
        form = await request.form(max_files=2, max_fields=8)
    except Exception:  # starlette's MultiPartException and parser errors on malformed bodies
        raise InvalidInput("the multipart body is malformed") from None
    try:
        if any(k not in (*_TEXT_FIELDS, "image", "file", "pdf_stamp") for k in form):
            raise InvalidInput("unknown form field; expected image, file, payload, audience, nonce, sha256, pdf_stamp")
        texts: dict[str, str | None] = {}
        for f in _TEXT_FIELDS:
            v = form.get(f)
            if v is not None and not isinstance(v, str):
                raise InvalidInput(f"{f}: must be a text field")
            texts[f] = _text(v, f)
        file = await _read(form.get("file"), "file", file_limit)
        if file is not None and texts["sha256"] is not None:
            raise InvalidInput("give the file or its sha256, not both")
        return VerifyRequest(
            payload=texts["payload"],
            image=await _read(form.get("image"), "image", image_limit),
            file=file,
            audience=texts["audience"],
            nonce=texts["nonce"],
            file_sha256=(file_sha256 := _sha256(texts["sha256"])),
            pdf_stamp=_stamp_with_hash(_pdf_stamp(_json_field(form.get("pdf_stamp"))), file_sha256),
        )
    finally:
        await form.close()


def build_router(
    *,
    verify: Callable[[VerifyRequest], Report],
    file_limit: int,
    image_limit: int = 10 * 1024 * 1024,
    verify_now: Callable[[VerifyRequest], Report | None] | None = None,
) -> APIRouter:
    """``verify`` runs one verification (in a worker thread: it signs nothing but reads the chain). ``verify_now``,
    if given, answers a JSON request on the event loop when it can do so without waiting (None: it would wait, and
    ``verify`` runs in a thread instead): the hand-off to a thread costs more than a verification from local state."""
    router = APIRouter(tags=["verify"])

    @router.post("/v1/verify", openapi_extra=_OPENAPI_BODY, response_class=JSONResponse, responses=_VERIFY_RESPONSES)
    async def verify_route(request: Request) -> JSONResponse:
        """Verify a QR text, link or payload (JSON), or a QR image and optionally the document file (multipart).
        ``sha256`` (either body) stands for the file when the file stays on the client."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        report = None
        if ctype == "application/json":
            req = request_from_json(await request.body())
            report = verify_now(req) if verify_now is not None else None
        elif ctype == "multipart/form-data":
            req = await _from_form(request, file_limit, image_limit)  # images and files: decoding takes a thread
        else:
            raise UnsupportedMediaType("send application/json or multipart/form-data")
        if report is None:
            report = await run_in_threadpool(verify, req)
        return JSONResponse(report.to_dict())

    @router.get("/v1/messages", response_class=JSONResponse)
    def messages() -> JSONResponse:
        """The plain sentences, in Vietnamese and English, that the pages show beside a report: each verdict as a
        word, each check's name and each check code's meaning (``codes.vi.DOC_REVOKED``). The same catalogue the
        pages use (``verifier.messages``); a report's own ``message`` stays English and specific."""
        body = {"verdicts": VERDICTS, "checks": CHECK_NAMES, "codes": CHECK_MESSAGES}
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})

    return router


OFFLINE_BUNDLE_MAX_AGE = 120  # seconds: a verifier that syncs often gets a bundle at most this much older


def build_offline_router(*, bundle: Callable[[], str], max_age: int = OFFLINE_BUNDLE_MAX_AGE) -> APIRouter:
    """``GET /v1/offline-bundle``: the signed offline bundle (``verifier.offline``), public, cached ``max_age``."""
    router = APIRouter(tags=["verify"])

    @router.get(
        "/v1/offline-bundle",
        response_class=Response,
        responses={
            200: {"content": {"application/jwt": {"schema": {"type": "string"}}}, "description": "The signed bundle"},
            **error_responses(ChainUnavailable),
        },
    )
    async def offline_bundle() -> Response:
        """Trust list, status lists and anchored roots with revocations, signed by the city root key, with an
        expiry: verify it with ``xacthuc verify INPUT --offline BUNDLE --trust-root ROOT.jwk``."""
        token = await run_in_threadpool(bundle)
        return Response(token, media_type="application/jwt", headers={"Cache-Control": f"public, max-age={max_age}"})

    return router
