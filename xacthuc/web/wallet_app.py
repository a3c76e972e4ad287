"""The web wallet's routes: ``/wallet`` (the page), ``/wallet-sw.js`` (its service worker, served from the root so its
scope can be ``/wallet``) and ``/wallet.webmanifest`` (what makes it installable). docs/identity.md "The web wallet".
"""

# no `from __future__ import annotations`: FastAPI evaluates the route signatures

import hashlib
import json
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .assets import STATIC_DIR
from .i18n import Translator
from .templates import render, request_lang

__all__ = ["build_wallet_router", "offline_assets"]

_WALLET_DIR = STATIC_DIR / "wallet"
_SHARED = ("site.css", "site.js", "icon.svg", "verify/scanner.js")  # base.html's files and the QR reader's module
_MANIFEST = "/wallet.webmanifest"


@cache
def offline_assets() -> tuple[tuple[str, ...], str]:
    """The URLs the service worker keeps for offline use, and a version: a hash of their files (and its own)."""
    files = [STATIC_DIR / name for name in _SHARED]
    files += sorted(p for p in _WALLET_DIR.rglob("*") if p.is_file() and p.name != "sw.js")
    digest = hashlib.sha256((_WALLET_DIR / "sw.js").read_bytes())
    for path in files:
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    urls = (*("/static/" + p.relative_to(STATIC_DIR).as_posix() for p in files), _MANIFEST)
    return urls, digest.hexdigest()[:16]


def _manifest(lang: str) -> dict[str, object]:
    t = Translator(lang)
    return {
        "name": f"{t('wallet.title')} · xacthuc",
        "short_name": t("wallet.title"),
        "lang": lang,
        "start_url": "/wallet",
        "scope": "/wallet",
        "display": "standalone",
        "background_color": "#f6f8fa",
        "theme_color": "#0b4f8a",
        "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }


def build_wallet_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/wallet", response_class=HTMLResponse)
    def wallet(request: Request) -> HTMLResponse:
        lang = request_lang(request)
        data = {"lang": lang, "strings": Translator(lang).prefixed("wallet.js.")}
        return render(request, "wallet.html", wallet_data=data)

    @router.get("/wallet-sw.js")
    def service_worker() -> Response:
        urls, version = offline_assets()
        head = f"const VERSION = {json.dumps(version)};\nconst ASSETS = {json.dumps(list(urls))};\n"
        body = head + (_WALLET_DIR / "sw.js").read_text(encoding="utf-8")
        return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @router.get(_MANIFEST)
    def manifest(request: Request) -> Response:
        body = json.dumps(_manifest(request_lang(request)), ensure_ascii=False)
        return Response(body, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})

    return router
