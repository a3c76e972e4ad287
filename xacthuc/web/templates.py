"""Jinja2 rendering for every page: one environment (autoescaped, strict), the language chosen per request.

``render(request, "verify.html", ...)`` gives the template ``lang``, ``t`` (the page strings in that language),
``other_lang`` with ``lang_url`` (the same page in the other language) and ``path``; a ``?lang=`` choice is
remembered in a cookie. Templates extend ``base.html``, whose blocks ``title``, ``head``, ``main`` and ``scripts`` are
stable for every page of the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .i18n import COOKIE, LANGS, Translator, choose_lang

__all__ = ["TEMPLATES_DIR", "environment", "render", "request_lang"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_COOKIE_AGE = 365 * 24 * 3600

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def request_lang(request: Request) -> str:
    """The language of this request: ``?lang=``, else the remembered cookie, else Vietnamese."""
    return choose_lang(request.query_params.get("lang"), request.cookies.get(COOKIE))


def _lang_url(request: Request, lang: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + "?" + urlencode([*query, ("lang", lang)])


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` in the request's language; a ``?lang=`` choice is remembered for the next pages."""
    lang = request_lang(request)
    other = next(x for x in LANGS if x != lang)
    html = environment.get_template(template).render(
        lang=lang,
        t=Translator(lang),
        other_lang=other,
        lang_url=_lang_url(request, other),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in LANGS and request.cookies.get(COOKIE) != lang:
        response.set_cookie(COOKIE, lang, max_age=_COOKIE_AGE, path="/", samesite="lax", httponly=True)
    return response
