"""Small ASGI helpers our middlewares share: a request body read whole and handed on as if it were never read, and
the route label of an answer given before the router."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Message, Receive

__all__ = ["RouteLabel", "read_body", "replaying"]


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
