"""Small ASGI helpers our middlewares share: a request body read whole and handed on as if it were never read, and
the route label of an answer given before the router."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Message, Receive, Scope

__all__ = ["RouteLabel", "media_type", "read_body", "replaying"]


@dataclass(frozen=True)
class RouteLabel:
    """``scope["route"]`` where a middleware answers a request itself: the label the request log and the metrics
    use (``xacthuc.request_log.route_template`` reads its ``path``)."""

    path: str


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away before it was whole (nobody to answer)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` in one message, then whatever ``receive`` gives (the disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def media_type(scope: Scope) -> str:
    """The request's media type as the routes read it: the first ``Content-Type`` header (ASGI names are lowercase),
    parameters dropped, lowercased; empty without one."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1").split(";", 1)[0].strip().lower())
    return ""
