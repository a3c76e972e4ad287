"""Thin HTTP layer over the verifier: ``POST /v1/verify`` (JSON or multipart) and the minimal ``/v`` page.

The verification itself is an injected callable (the composition root decides where the trust list, proofs, chain
and status lists come from); this module only turns requests into a :class:`VerifyRequest` and reports into JSON.
A request the verifier cannot even start on is a typed 4xx; a document that fails its checks is a 200 report.
"""
# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from keys.api import error_responses
from keys.errors import InvalidInput
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
from verifier.report import Report

_TEXT_FIELDS = ("payload", "audience", "nonce")
_MAX_TEXT = 16_384


class UnsupportedMediaType(VerificationError, InvalidInput):
    """The request body is neither JSON nor multipart/form-data."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


_TEXT_SCHEMA = {"type": "string", "maxLength": _MAX_TEXT}
_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {f: _TEXT_SCHEMA for f in _TEXT_FIELDS},
                    "required": ["payload"],
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "file": {"type": "string", "format": "binary"},
                        **{f: _TEXT_SCHEMA for f in _TEXT_FIELDS},
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


async def _from_json(request: Request) -> VerifyRequest:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return VerifyRequest(
        payload=_text(data.get("payload"), "payload"),
        audience=_text(data.get("audience"), "audience"),
        nonce=_text(data.get("nonce"), "nonce"),
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
        if any(k not in (*_TEXT_FIELDS, "image", "file") for k in form):
            raise InvalidInput("unknown form field; expected image, file, payload, audience, nonce")
        texts: dict[str, str | None] = {}
        for f in _TEXT_FIELDS:
            v = form.get(f)
            if v is not None and not isinstance(v, str):
                raise InvalidInput(f"{f}: must be a text field")
            texts[f] = _text(v, f)
        return VerifyRequest(
            payload=texts["payload"],
            image=await _read(form.get("image"), "image", image_limit),
            file=await _read(form.get("file"), "file", file_limit),
            audience=texts["audience"],
            nonce=texts["nonce"],
        )
    finally:
        await form.close()


def build_router(
    *,
    verify: Callable[[VerifyRequest], Report],
    file_limit: int,
    image_limit: int = 10 * 1024 * 1024,
) -> APIRouter:
    """``verify`` runs one verification (in a worker thread: it signs nothing but reads the chain)."""
    router = APIRouter(tags=["verify"])

    @router.post("/v1/verify", openapi_extra=_OPENAPI_BODY, response_class=JSONResponse, responses=_VERIFY_RESPONSES)
    async def verify_route(request: Request) -> JSONResponse:
        """Verify a QR text, link or payload (JSON), or a QR image and optionally the document file (multipart)."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            req = await _from_json(request)
        elif ctype == "multipart/form-data":
            req = await _from_form(request, file_limit, image_limit)
        else:
            raise UnsupportedMediaType("send application/json or multipart/form-data")
        report = await run_in_threadpool(verify, req)
        return JSONResponse(report.to_dict())

    @router.get("/v", response_class=HTMLResponse, include_in_schema=False)
    def verify_page() -> HTMLResponse:
        return HTMLResponse(_PAGE)

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


_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Xác thực văn bản</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.valid{color:#0a6b2b}.bad{color:#a11}li{margin:.2rem 0}code{word-break:break-all}
.warn{border:2px solid #8a5a00;background:#fff4d6;color:#4a3000;padding:.5rem .75rem;border-radius:.25rem}</style>
</head>
<body><h1>Xác thực văn bản / Verify a document</h1><div id="out">Đang kiểm tra… / Checking…</div>
<script>
// The payload: the link's fragment (location.hash), else its `p` query parameter read raw. Only %XX escapes are
// decoded, never form encoding: `+` is a base43 character (URLSearchParams would turn it into a space).
function payloadFrom(hash, search) {
  const decode = (s) => { try { return decodeURIComponent(s); } catch (e) { return s; } };
  if (hash.length > 1) return decode(hash.slice(1));
  const values = search.replace(/^[?]/, "").split("&").filter((kv) => kv.startsWith("p=")).map((kv) => kv.slice(2));
  return values.length === 1 ? decode(values[0]) : "";
}
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
// A skipped check that carries a warning is a risk the reader must see, in words, above the list.
const WARNINGS_VI = {
  AUDIENCE_NOT_CHECKED: "Chưa kiểm tra bên nhận: bản xuất trình này được tạo cho nơi khác và ai đã nhận nó đều có thể"
    + " dùng lại ở đây trong thời hạn hiệu lực.",
  AUDIENCE_NOT_BOUND: "Bản xuất trình không gắn với bên nhận nào: ai giữ nó cũng có thể dùng lại.",
};
function renderReport(rep) {
  const c = rep.claims || {};
  const warnings = rep.checks.filter((k) => k.status === "skipped" && k.data && k.data.warning);
  return '<section data-verdict="' + esc(rep.verdict) + '"><h2 class="'
    + (rep.verdict === "valid" ? "valid" : "bad") + '">' + esc(rep.verdict) + "</h2>"
    + warnings.map((k) => '<p class="warn" role="alert" data-warning="' + esc(k.code) + '"><strong>Cảnh báo /'
      + " Warning:</strong> " + esc(WARNINGS_VI[k.code] || "") + " " + esc(k.message) + "</p>").join("")
    + (rep.issuer ? "<p>" + esc(rep.issuer.name) + "</p>" : "")
    + (c.number ? "<p>Số: <b>" + esc(c.number) + "</b>, ngày " + esc(c.issued_on) + "</p>" : "")
    + (c.title ? "<p>" + esc(c.type_name) + ": <b>" + esc(c.title) + "</b></p>" : "")
    + (c.issuing_body ? "<p>" + esc(c.issuing_body) + ", " + esc(c.place) + "</p>" : "")
    + (c.signer_name ? "<p>" + esc([c.signing_form, c.signer_title].filter(Boolean).join(" ")) + ": "
      + esc(c.signer_name) + "</p>" : "")
    + "<ul>" + rep.checks.map((k) => '<li data-check="' + esc(k.name) + '" data-status="' + esc(k.status) + '">'
      + esc(k.name) + ": " + esc(k.status) + (k.data && k.data.warning ? " ⚠" : "") + " (" + esc(k.code) + ") "
      + esc(k.message) + "</li>").join("") + "</ul></section>";
}
if (typeof document !== "undefined") {
  const out = document.getElementById("out");
  const payload = payloadFrom(location.hash, location.search);
  if (!payload) { out.textContent = "Không có mã để kiểm tra / No payload in the link."; }
  else fetch("/v1/verify", {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify({payload})})
    .then((r) => r.json()).then((rep) => {
      if (rep.error) { out.innerHTML = '<p class="bad">' + esc(rep.error.message) + "</p>"; return; }
      out.innerHTML = renderReport(rep);
    }).catch(() => { out.textContent = "Lỗi kết nối / Network error"; });
}
</script></body></html>
"""
