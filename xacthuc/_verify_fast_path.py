"""``POST /v1/verify`` with a JSON body, answered in front of the router when the verification needs no network.

A speed trick (docs/benchmarks.md, "The fast path"). For a verification answered from local state, FastAPI's own
layers (its exception middleware, matching the path against every route, the request object, dependency solving
and its response wrapper) cost about a third as much CPU as the verification itself. This middleware is the
innermost of ours, so the request log and metrics, the rate limit, the upload and JSON depth limits and the security
headers all still apply; it reads the body with the route's own reader (``verifier.api.routes.request_from_json``),
runs the route's own ``verify_now`` and answers with the route's own response class.

It answers only a report. Anything else goes to the route unchanged, its body replayed: another path, method or
media type, a body the route refuses, a verification that would wait on the chain, any error (the route then meets
the same error and answers it through the app's one handler). ``tests/xacthuc/test_verify_fast_path.py`` holds its
answers byte for byte to the route's.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from verifier.api.routes import request_from_json
from verifier.dispatch import VerifyRequest
from verifier.report import Report
from xacthuc.asgi import RouteLabel, media_type, read_body, replaying

__all__ = ["VERIFY_PATH", "VerifyFastPath"]

VERIFY_PATH = "/v1/verify"
_ROUTE = RouteLabel(VERIFY_PATH)


class VerifyFastPath:
    """Answers ``POST /v1/verify`` (``application/json``) with ``verify_now``'s report, or hands it to the route."""

    def __init__(self, app: ASGIApp, verify_now: Callable[[VerifyRequest], Report | None]) -> None:
        self.app = app
        self.verify_now = verify_now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != VERIFY_PATH
            or scope["method"] != "POST"
            or media_type(scope) != "application/json"
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away before its body was whole: nobody to answer
        report = self._report(body)
        if report is None:
            await self.app(scope, replaying(body, receive), send)
            return
        scope["route"] = _ROUTE  # the request log's and metrics' path template, as the route would set it
        await JSONResponse(report.to_dict())(scope, receive, send)

    def _report(self, body: bytes) -> Report | None:
        try:
            return self.verify_now(request_from_json(body))
        except Exception:
            return None  # the route reads the body again, meets the same error and answers it
