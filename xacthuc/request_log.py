"""One log line per HTTP request, and the request id every line logged while serving it carries.

The id is the caller's ``X-Request-ID`` when that is a sane token (a load balancer's or a client's, so one id follows
the request through every hop), else a new random one; the response always echoes it. The line names the route's
path *template* (``/v1/documents/{document_id}``), never the path itself: document ids, payloads in links and query
strings stay out of the logs.

A plain ASGI middleware, like the others in front of the verification endpoint (Starlette's ``@app.middleware``
costs about a millisecond of CPU a request). It also hands each finished request to ``observe`` (the request
metrics), so the template, status and duration are worked out once.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xacthuc.logs import REQUEST_ID

__all__ = ["REQUEST_ID_HEADER", "Observer", "RequestLog", "request_id_from", "route_template"]

log = logging.getLogger("xacthuc.request")

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER = REQUEST_ID_HEADER.lower().encode()
# Letters, digits and ._:- , 8 to 128 of them: UUIDs, ULIDs, hex, the usual proxies' ids. Anything else (empty,
# too long, spaces, quotes, control characters) could forge or break a log line and is replaced.
_SANE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
UNMATCHED = "unmatched"

#: Called once a request is answered: (method, path template, status, seconds).
Observer = Callable[[str, str, int, float], None]


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` if it is a sane token, else a fresh random id (24 hex digits)."""
    for name, value in headers:
        if name == _HEADER:
            return value.decode("ascii") if _SANE.fullmatch(value) else secrets.token_hex(12)
    return secrets.token_hex(12)


def route_template(scope: Scope) -> str:
    """The matched route's path template (a mount's prefix for what it serves), ``unmatched`` for none."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path or "/"
    return UNMATCHED


class RequestLog:
    """Sets the request id, echoes it in the response, and logs ``request`` with method, path template, status and
    duration (ms) once the response is sent (or the app failed: status 500)."""

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        token = REQUEST_ID.set(request_id)
        header = (_HEADER, request_id.encode("ascii"))
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            self._done(scope, 500 if status is None else status, start)  # unanswered: the server answers 500
            # the id stays set: the server's error handler, outside this middleware, logs the failure with it
            # (each request runs in its own task, so it goes no further)
            raise
        self._done(scope, 500 if status is None else status, start)
        REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, start: float) -> None:
        seconds = time.perf_counter() - start
        template = route_template(scope)
        method = str(scope["method"])
        log.info(
            "%s %s %d",
            method,
            template,
            status,
            extra={
                "http": {
                    "method": method,
                    "path": template,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                }
            },
        )
        if self.observe is not None:
            self.observe(method, template, status, seconds)
