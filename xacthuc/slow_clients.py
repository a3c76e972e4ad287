"""A slow client cannot hold a connection forever: uvicorn's httptools protocol with the timeouts it lacks.

uvicorn bounds only the idle time between two requests (``timeout_keep_alive``). A connection that is opened and
never sends, or sends its headers a byte at a time (slowloris), or its body a byte at a time, is kept for as long
as the client likes, and its header block may grow without bound. This protocol adds, from ``keys.limits``:

- the request line and headers must be whole within ``HEADER_TIMEOUT_SECONDS`` of the connection's opening (or of
  the request's first byte on a kept-alive connection), else 408 ``REQUEST_TIMEOUT`` and the connection is closed;
- they may total at most ``HEADER_BYTES``, else 431 ``HEADERS_TOO_LARGE`` and the connection is closed;
- after ``BODY_GRACE_SECONDS`` the body must have averaged ``BODY_MIN_BYTES_PER_SECOND``, else 408 (or, when the
  app has answered already, the connection is closed). Time while the server itself stopped reading (the app
  consumes the body slower than it comes) is not held against the client.

Everything else is uvicorn's own code path; ``xacthuc serve`` passes this class as uvicorn's ``http``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from keys.errors import XacthucError
from keys.limits import BODY_GRACE_SECONDS, BODY_MIN_BYTES_PER_SECOND, HEADER_BYTES, HEADER_TIMEOUT_SECONDS

__all__ = ["GuardedHttpToolsProtocol", "HeadersTooLarge", "RequestTimeout"]


class RequestTimeout(XacthucError):
    """The request's headers or body came too slowly: the connection is closed."""

    code = "REQUEST_TIMEOUT"
    http_status = 408


class HeadersTooLarge(XacthucError):
    """The request line and headers are too large: the connection is closed."""

    code = "HEADERS_TOO_LARGE"
    http_status = 431


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size bound and a body rate floor."""

    header_timeout = HEADER_TIMEOUT_SECONDS
    header_bytes = HEADER_BYTES
    body_grace = BODY_GRACE_SECONDS
    body_rate = BODY_MIN_BYTES_PER_SECOND

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._in_headers = False
        self._in_body = False
        self._refused = False
        self._raw_header_bytes = 0  # bytes received while the headers were incomplete (catches one endless header)
        self._header_size = 0  # the URL and every header name and value as parsed
        self._phase_start = 0.0
        self._body_bytes = 0

    # ------------------------------------------------------------------------------------------ uvicorn's callbacks
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()  # a connection that never sends a byte is a slow client too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_headers and not self._refused:
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self.header_bytes:
                self._refuse(HeadersTooLarge, f"the request headers exceed {self.header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # a kept-alive connection's next request: its headers' clock starts now
            self._start_headers()

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4  # name ": " value CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        # the request line ("GET " URL " HTTP/1.1" CRLF) and the blank line closing the headers
        self._header_size += len(self.parser.get_method()) + 1 + len(b" HTTP/1.1\r\n") + 2
        if self._header_size > self.header_bytes:
            self._refuse(HeadersTooLarge, f"the request headers exceed {self.header_bytes} bytes")
            return
        super().on_headers_complete()
        self._in_body, self._body_bytes = True, 0
        self._phase_start = self.loop.time()
        self._arm(self.body_grace)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._in_body = False
        self._cancel()
        super().on_message_complete()

    # -------------------------------------------------------------------------------------------------- the clock
    def _start_headers(self) -> None:
        self._in_headers, self._raw_header_bytes, self._header_size = True, 0, 0
        self._phase_start = self.loop.time()
        self._arm(self.header_timeout)

    def _arm(self, delay: float) -> None:
        self._cancel()
        self._armed_at = self.loop.time()
        self._timer = self.loop.call_later(max(delay, 0.0), self._expired)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._refused or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._in_headers:
            self._refuse(RequestTimeout, f"the request headers took over {self.header_timeout:g} seconds")
            return
        if not self._in_body:
            return
        if self.flow.read_paused:  # our app is behind, not the client: this interval is not the client's
            self._phase_start += now - self._armed_at
            self._arm(self.body_grace)
            return
        due = self._phase_start + self.body_grace + self._body_bytes / self.body_rate
        if now < due:
            self._arm(due - now)
            return
        self._refuse(RequestTimeout, f"the request body came slower than {self.body_rate} bytes a second")

    def _refuse(self, error: type[XacthucError], message: str) -> None:
        """Answer ``error`` when this request has no answer begun, then close the connection. The message stays
        English: no request (and so no ``Accept-Language``) has been read whole."""
        status, code = error.http_status, error.code
        in_body = self._in_body
        self._refused = True
        self._in_headers = self._in_body = False
        self._cancel()
        cycle = self.cycle
        if in_body:  # the request went to the app: it sees a disconnect, and what it answers then goes nowhere
            can_answer = not cycle.response_started
            if not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        else:  # the app never saw this request; an earlier one on the connection has had its answer. A connection
            # that sent nothing is closed without a word (a browser's preconnected socket would read a stray answer)
            started = self._raw_header_bytes > 0 or self._header_size > 0
            can_answer = started and (cycle is None or cycle.response_complete)
        if can_answer:
            body = json.dumps({"error": {"code": code, "message": message, "lang": "en"}}).encode()
            head = (
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
                % (status, _REASONS[status], len(body))
            )
            self.transport.write(head + body)
        self.transport.close()
