"""The web pages: server-rendered Jinja2 templates with small ES modules, one message catalogue (vi, en), security
headers on every answer, and static files from this host only. ``install_web`` adds them to the app."""

from __future__ import annotations

from fastapi import FastAPI

from .assets import install_static
from .headers import CSP, SecurityHeaders
from .i18n import LANGS, Translator
from .pages import build_pages_router
from .templates import render, request_lang

__all__ = ["CSP", "LANGS", "SecurityHeaders", "Translator", "install_web", "render", "request_lang"]


def install_web(app: FastAPI, *, dev_mode: bool) -> None:
    """The pages, their static files and the security headers (on every answer, API included). Call last: the
    ``/static`` mount takes whatever path under it no earlier route took."""
    app.include_router(build_pages_router())
    install_static(app, dev_mode=dev_mode)
    app.add_middleware(SecurityHeaders)
