"""``xacthuc serve`` runs uvicorn with httptools and uvloop (chosen by measurement, docs/benchmarks.md): both load as
uvicorn's parser and loop, and an answer served through them is the same as through the plain h11 and asyncio."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from xacthuc.cli.serve import EVENT_LOOP, HTTP_PARSER
from xacthuc.request_log import RequestLog


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestLog)

    @app.post("/echo")
    async def echo(body: dict[str, object]) -> JSONResponse:
        return JSONResponse({"got": body, "text": "Ủy ban nhân dân Thành phố Hồ Chí Minh"})

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(http: str, loop: str) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(_app(), host="127.0.0.1", port=port, http=http, loop=loop, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_chosen_parser_and_loop_load() -> None:
    config = uvicorn.Config(_app(), http=HTTP_PARSER, loop=EVENT_LOOP)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert EVENT_LOOP == "uvloop"
    assert config.get_loop_factory() is not None


def test_httptools_and_uvloop_answer_what_h11_and_asyncio_answer() -> None:
    answers = []
    for http, loop in (("h11", "asyncio"), (HTTP_PARSER, EVENT_LOOP)):
        with _served(http, loop) as url, httpx.Client(base_url=url) as client:
            # two requests on one keep-alive connection, the second with a caller's request id
            first = client.post("/echo", json={"payload": "xt1:ABC", "n": [1, 2.5, None]})
            second = client.post("/echo", json={"a": "é"}, headers={"X-Request-ID": "req-12345678"})
            answers.append(
                [
                    (r.status_code, r.content, r.headers["content-type"], r.headers["content-length"])
                    for r in (first, second)
                ]
                + [second.headers["x-request-id"]]
            )
    assert answers[0] == answers[1]
    assert answers[1][-1] == "req-12345678"
