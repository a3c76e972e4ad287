"""Static files, all from this host: ours (``xacthuc/web/static`` under ``/static/``) and a few vendored npm files
served straight from ``node_modules`` (``make install`` runs ``npm ci``) under ``/static/vendor/``.

The vendored files are an allow-list, so nothing else in ``node_modules`` is reachable: zxing-wasm's reader (its ES
module, the chunk it imports and its ``.wasm``; the page points ``locateFile`` here instead of the package's default
CDN) and, in development mode only, axe-core, which the browser tests inject to check accessibility.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from keys.errors import NotFound

__all__ = ["NODE_MODULES", "STATIC_DIR", "VENDOR_URL", "install_static", "vendor_files"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDOR_URL = "/static/vendor"
_JS = "text/javascript"
_ZXING = {
    "zxing-wasm/es/reader/index.js": ("zxing-wasm/dist/es/reader/index.js", _JS),
    "zxing-wasm/es/share.js": ("zxing-wasm/dist/es/share.js", _JS),
    "zxing-wasm/reader/zxing_reader.wasm": ("zxing-wasm/dist/reader/zxing_reader.wasm", "application/wasm"),
}
_AXE = {"axe-core/axe.min.js": ("axe-core/axe.min.js", _JS)}


def vendor_files(*, dev_mode: bool) -> dict[str, tuple[str, str]]:
    """URL path under ``/static/vendor/`` → (path under ``node_modules``, media type)."""
    return {**_ZXING, **(_AXE if dev_mode else {})}


def install_static(app: FastAPI, *, dev_mode: bool, node_modules: Path = NODE_MODULES) -> None:
    """Serve ``/static/vendor/...`` (the allow-list) and ``/static/...`` (our files). Call after every other route:
    the ``/static`` mount answers any path under it that no route took first (such as ``/static/docs/``)."""
    files = vendor_files(dev_mode=dev_mode)
    router = APIRouter(include_in_schema=False)

    @router.get(VENDOR_URL + "/{name:path}")
    def vendor(name: str) -> FileResponse:
        if name not in files:
            raise NotFound("no such asset")
        relative, media_type = files[name]
        path = node_modules / relative
        if not path.is_file():
            raise NotFound("the vendored assets are not installed: run `make install` (npm ci)")
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
