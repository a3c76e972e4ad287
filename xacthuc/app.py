"""The FastAPI application factory: thin routes over the domain packages, one error handler, health probes."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keys.errors import JsonTooDeep
from keys.json_depth import MAX_JSON_DEPTH, check_json_depth
from ledger.chain.rpc_transport import rpc_deadline
from xacthuc._verify_fast_path import VerifyFastPath
from xacthuc.api_docs import READY_RESPONSES, install_api_docs
from xacthuc.asgi import media_type, read_body, replaying
from xacthuc.chainsetup import rpc_report
from xacthuc.errors_http import error_body, install_error_handlers
from xacthuc.metrics import install_metrics
from xacthuc.rate_limit import RateLimit, RateLimiter, parse_rate_limits
from xacthuc.recursion import cap_recursion_limit
from xacthuc.request_log import RequestLog
from xacthuc.routers import build_routers
from xacthuc.server_verifier import ServerVerifier
from xacthuc.services import Services
from xacthuc.web import install_web

log = logging.getLogger("xacthuc.app")

#: The longest ``/readyz`` waits for the node (load balancers' probes commonly give up after a second).
READY_PROBE_CHAIN_SECONDS = 0.5


def create_app(
    services: Services, *, rate_clock: Callable[[], float] = time.monotonic, fast_verify: bool = True
) -> FastAPI:
    """Build the app over already-constructed services (the CLI and tests build those). ``rate_clock`` is the rate
    limiter's (monotonic seconds; tests pass their own). ``fast_verify=False`` leaves out the verification fast path
    (``xacthuc._verify_fast_path``): its test compares the app with and without it."""
    app = FastAPI(
        title="xacthuc",
        version="0.1.0",
        description="Verifiable administrative documents and digital IDs for Ho Chi Minh City",
        docs_url=None,  # served by install_api_docs, every asset from this host
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.services = services
    cap_recursion_limit()  # the dependencies are imported by now: from here on the limit is ours
    install_error_handlers(app)
    verifier = ServerVerifier(services)  # the verify route's, the pages' and OpenID4VP's
    if fast_verify and verifier.answers_now:  # innermost of ours: every middleware below applies to its answers
        app.add_middleware(VerifyFastPath, verify_now=verifier.verify_now)
    app.add_middleware(_JsonDepthLimit, max_depth=MAX_JSON_DEPTH)
    request_metrics = install_metrics(app, services)
    app.add_middleware(_UploadLimit, limit=services.settings.upload_limit)  # refuse before any work
    limiter = RateLimiter(parse_rate_limits(services.settings.rate_limits), clock=rate_clock)
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimit, limiter=limiter)  # before the body is read; 429s still logged and counted
    app.add_middleware(RequestLog, observe=request_metrics)  # outermost: every request logged and counted

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None, responses=READY_RESPONSES)
    def readyz() -> JSONResponse:
        """The database and the chain are reachable (503 otherwise). ``degraded`` (still 200: verifications work)
        names what keeps documents from being anchored, such as a relayer account that cannot pay."""
        down: dict[str, str] = {}
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            down["database"] = type(exc).__name__
        body: dict[str, Any] = {}
        try:  # a probe answers at once: a node that does not answer within the probe's budget is down
            with rpc_deadline(min(services.settings.rpc_timeout, READY_PROBE_CHAIN_SECONDS)):
                registry = services.registry()
                body = {"chain_id": registry.chain_id, "block": registry.block_number, "contract": registry.address}
        except Exception as exc:
            down["chain"] = type(exc).__name__
        rpc = rpc_report(services.registry_client.w3 if services.registry_client is not None else None)
        if rpc is not None:  # which RPC endpoint is in use and which are down (several: they fail over)
            body["rpc"] = {"in_use": rpc["in_use"], "down": rpc["down"]}
        if down:
            return JSONResponse({"status": "unavailable", "down": down, **body}, status_code=503)
        degraded = _anchoring_degraded(services)
        if degraded:
            return JSONResponse({"status": "degraded", "degraded": degraded, **body})
        return JSONResponse({"status": "ready", **body})

    for router in build_routers(services, verifier):
        app.include_router(router)
    install_web(app, dev_mode=services.settings.dev_mode)  # last: its /static mount takes what no route took
    return app


def _anchoring_degraded(services: Services) -> list[dict[str, Any]]:
    """What keeps documents from being anchored (``/readyz``'s ``degraded``): each with the account and the code."""
    try:
        with rpc_deadline(min(services.settings.rpc_timeout, READY_PROBE_CHAIN_SECONDS)):
            problems = services.anchoring_problems()
    except Exception:  # a balance that cannot be read now is not news: the chain check above speaks for the node
        return []
    return [
        {
            "account": p.account,
            "code": p.code,
            "message": p.message,
            "balance_wei": str(p.balance),
            "needed_wei": str(p.needed),
        }
        for p in problems
    ]


class _TooLarge(Exception):
    pass


class _UploadLimit:
    """Refuses a request body over ``limit`` bytes with 413 ``PAYLOAD_TOO_LARGE``: at once by its Content-Length,
    or while a chunked body streams in (the app's own answer to the cut-off body is then replaced)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit():
                await _send_error(send, 400, "BAD_REQUEST", "invalid Content-Length")
            elif int(length) > self.limit:
                await _send_error(send, 413, "PAYLOAD_TOO_LARGE", self._message())
            else:
                await self.app(scope, receive, send)
            return
        received, over, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                over = True
                raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the app says about a body it never got whole, the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:  # only the cut-off body's consequences are ours to answer
                raise
        if over and not started:
            await _send_error(send, 413, "PAYLOAD_TOO_LARGE", self._message())

    def _message(self) -> str:
        return f"the request body exceeds the {self.limit} byte limit"


_FORM_TYPES = ("multipart/", "application/x-www-form-urlencoded")
_THREAD_SCAN_BYTES = 1 << 20  # a larger body is scanned in a worker thread, off the event loop


class _JsonDepthLimit:
    """Refuses a request body nested deeper than ``max_depth`` with 422 ``JSON_TOO_DEEP``, before any route parses
    it: the one guard for every JSON body of every route, from anyone (it runs before authentication).

    Any body but a form (multipart, url-encoded) may be read as JSON (FastAPI parses a body without a
    Content-Type as JSON), so every other body is buffered, checked in linear time (``keys.json_depth``) and
    handed on unchanged. The upload limit outside this middleware bounds what is buffered.
    """

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_form(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before its body was whole: nobody to answer
        try:
            if len(body) > _THREAD_SCAN_BYTES:
                await run_in_threadpool(check_json_depth, body, self.max_depth)
            else:
                check_json_depth(body, self.max_depth)
        except JsonTooDeep as exc:
            await _send_error(send, exc.http_status, exc.code, exc.message)
            return
        await self.app(scope, replaying(body, receive), send)


def _is_form(scope: Scope) -> bool:
    return media_type(scope).startswith(_FORM_TYPES)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
