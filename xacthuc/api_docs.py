"""``/docs``: Swagger UI over our OpenAPI schema, every asset served by us (no CDN, no font or validator host).

The assets come from the pinned npm package ``swagger-ui-dist`` (package.json; ``make install`` runs ``npm ci``).
ReDoc is not served: its bundle and fonts would come from other hosts. Nor is Swagger UI's OAuth2 redirect page:
the API takes API keys, not OAuth2. The page has no inline script (its start-up is ``/static/swagger-init.js``, from
``xacthuc/web/static``), so it passes the same Content-Security-Policy as every page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from keys.errors import NotFound

__all__ = ["ASSETS_URL", "DOCS_URL", "READY_RESPONSES", "install_api_docs"]

DOCS_URL = "/docs"
ASSETS_URL = "/static/docs"
#: Where ``npm ci`` puts the package in this checkout.
SWAGGER_UI_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "swagger-ui-dist"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

_CHAIN = {
    "chain_id": {"type": "integer"},
    "block": {"type": "integer"},
    "contract": {"type": "string"},
    "rpc": {
        "type": "object",
        "description": "The RPC endpoint calls go to (null: none answers) and those down, credentials redacted",
        "properties": {
            "in_use": {"type": ["string", "null"]},
            "down": {"type": "array", "items": {"type": "string"}},
        },
    },
}
#: ``GET /readyz``'s answers (a probe's own shape, not the API's error body).
READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Ready; or `degraded`: verifications work, but `degraded` names what keeps documents from being"
        " anchored (an anchoring account that cannot pay: its address and `ANCHOR_ACCOUNT_UNFUNDED`)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["ready", "degraded"]},
                        "degraded": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["account", "code", "message"],
                                "properties": {
                                    "account": {"type": "string"},
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                    "balance_wei": {"type": "string"},
                                    "needed_wei": {"type": "string"},
                                },
                            },
                        },
                        **_CHAIN,
                    },
                }
            }
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

    page = _DOCS_PAGE.format(
        title=html.escape(f"{app.title} API"), openapi_url=html.escape(openapi_url), assets=ASSETS_URL
    )

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise NotFound("no such asset")
        path = assets / name
        if not path.is_file():
            raise NotFound("the API docs' assets are not installed: run `make install` (npm ci)")
        return FileResponse(path, media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""
