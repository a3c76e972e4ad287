"""``/docs``: Swagger UI over our OpenAPI schema, every asset served by us (no CDN, no font or validator host).

The assets come from the pinned npm package ``swagger-ui-dist`` (package.json; ``make install`` runs ``npm ci``).
ReDoc is not served: its bundle and fonts would come from other hosts. Nor is Swagger UI's OAuth2 redirect page:
the API takes API keys, not OAuth2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from keys.errors import NotFound

DOCS_URL = "/docs"
ASSETS_URL = "/static/docs"
#: Where ``npm ci`` puts the package in this checkout.
SWAGGER_UI_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "swagger-ui-dist"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

_CHAIN = {"chain_id": {"type": "integer"}, "block": {"type": "integer"}, "contract": {"type": "string"}}
#: ``GET /readyz``'s answers (a probe's own shape, not the API's error body).
READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Ready",
        "content": {
            "application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ready"}, **_CHAIN}}}
        },
    },
    503: {
        "description": "Unavailable: `down` names what (database, chain) and the error's type",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status", "down"],
                    "properties": {
                        "status": {"const": "unavailable"},
                        "down": {"type": "object", "additionalProperties": {"type": "string"}},
                        **_CHAIN,
                    },
                }
            }
        },
    },
}


def install_api_docs(app: FastAPI, assets: Path = SWAGGER_UI_DIR) -> None:
    """Serve ``/docs`` and the three Swagger UI files it loads, from ``assets``."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=None,
            # Swagger UI would otherwise show a badge loaded from the online validator's host.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise NotFound("no such asset")
        path = assets / name
        if not path.is_file():
            raise NotFound("the API docs' assets are not installed: run `make install` (npm ci)")
        return FileResponse(path, media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
