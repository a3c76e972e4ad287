"""The public pages: ``/`` (what this is), ``/verify`` (scan, upload, paste, file check), ``/v`` (a QR code's
link target, ``/v#<payload>``, which verifies at once) and ``/wallet`` (the citizen's web wallet, wallet_app.py).
The verifier pages are thin clients of ``POST /v1/verify``."""

# no `from __future__ import annotations`: FastAPI evaluates the route signatures

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from verifier.messages import CHECK_MESSAGES, CHECK_NAMES, VERDICTS
from verifier.oid4vp.requests import CLAIM_NAMES as REQUEST_CLAIMS

from .i18n import Translator
from .templates import render, request_lang
from .wallet_app import build_wallet_router

__all__ = ["build_pages_router"]


def verify_data(lang: str, strings: dict[str, str]) -> dict[str, Any]:
    """What the verifier's scripts need in ``lang``: page strings, verdict words, check names and code messages."""
    return {
        "lang": lang,
        "strings": strings,
        "verdicts": {v: names[lang] for v, names in VERDICTS.items()},
        "checks": {c: names[lang] for c, names in CHECK_NAMES.items()},
        "codes": CHECK_MESSAGES[lang],
    }


def build_pages_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def _data(request: Request) -> dict[str, Any]:
        lang = request_lang(request)
        return verify_data(lang, Translator(lang).prefixed("js."))

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return render(request, "home.html")

    @router.get("/verify", response_class=HTMLResponse)
    def verify(request: Request) -> HTMLResponse:
        return render(request, "verify.html", verify_data=_data(request))

    @router.get("/v", response_class=HTMLResponse)
    def link_target(request: Request) -> HTMLResponse:
        return render(request, "v.html", verify_data=_data(request))

    @router.get("/verify/request", response_class=HTMLResponse)
    def verify_request(request: Request) -> HTMLResponse:
        # A relying party asks a wallet for chosen claims over OpenID4VP (verifier.oid4vp) and sees the verdict here.
        lang = request_lang(request)
        strings = {**Translator(lang).prefixed("js."), **Translator(lang).prefixed("request.js.")}
        return render(request, "verify_request.html", verify_data=verify_data(lang, strings), claims=REQUEST_CLAIMS)

    router.include_router(build_wallet_router())  # /wallet, its service worker and manifest

    return router
