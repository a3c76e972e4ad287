"""The FastAPI application factory: thin routes over the domain packages, one error handler, health probes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text

from xacthuc.errors_http import error_body, install_error_handlers
from xacthuc.services import Services

log = logging.getLogger("xacthuc.app")


def create_app(services: Services) -> FastAPI:
    """Build the app over already-constructed services (the CLI and tests build those)."""
    app = FastAPI(
        title="xacthuc",
        version="0.1.0",
        description="Verifiable administrative documents and digital IDs for Ho Chi Minh City",
    )
    app.state.services = services
    install_error_handlers(app)
    _install_upload_limit(app, services.settings.upload_limit)
    _install_metrics(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz() -> JSONResponse:
        """The database and the chain are reachable."""
        down: dict[str, str] = {}
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            down["database"] = type(exc).__name__
        body: dict[str, Any] = {}
        try:
            registry = services.registry()
            body = {"chain_id": registry.chain_id, "block": registry.block_number, "contract": registry.address}
        except Exception as exc:
            down["chain"] = type(exc).__name__
        if down:
            return JSONResponse({"status": "unavailable", "down": down, **body}, status_code=503)
        return JSONResponse({"status": "ready", **body})

    for router in services.routers():
        app.include_router(router)
    return app


def _install_upload_limit(app: FastAPI, limit: int) -> None:
    @app.middleware("http")
    async def _limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                return JSONResponse(error_body("BAD_REQUEST", "invalid Content-Length"), status_code=400)
            if too_big:
                return JSONResponse(
                    error_body("PAYLOAD_TOO_LARGE", f"the request body exceeds the {limit} byte limit"),
                    status_code=413,
                )
        elif request.method in ("POST", "PUT", "PATCH"):
            # Chunked upload: count as it streams and refuse once past the limit.
            received = 0
            receive = request.receive

            async def counting_receive() -> dict[str, Any]:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
                return dict(message)

            request._receive = counting_receive
            try:
                return await call_next(request)
            except _TooLarge:
                return JSONResponse(
                    error_body("PAYLOAD_TOO_LARGE", f"the request body exceeds the {limit} byte limit"),
                    status_code=413,
                )
        return await call_next(request)


class _TooLarge(Exception):
    pass


def _install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter("xacthuc_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("xacthuc_http_request_seconds", "HTTP request latency", ["route"], registry=registry)
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        requests.labels(request.method, name, str(response.status_code)).inc()
        latency.labels(name).observe(time.perf_counter() - start)
        return response

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
