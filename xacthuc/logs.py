"""Logging for every command: one JSON object a line (or readable text at a developer's terminal), each line inside
an HTTP request carrying its request id, and the configured secrets masked in every line as a last line of defence.

The request id lives in a context variable (:data:`REQUEST_ID`): ``xacthuc.request_log`` sets it for the request,
and everything logged while the request is served (in the event loop or in the worker thread a route hands work to,
which copies the context) carries it.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from ledger.chain import redact_rpc_url
from xacthuc.settings import Settings

__all__ = [
    "REQUEST_ID",
    "JsonFormatter",
    "SecretMask",
    "TextFormatter",
    "known_secrets",
    "log_format",
    "setup_logging",
]

#: The id of the HTTP request being served in this context (None outside a request).
REQUEST_ID: ContextVar[str | None] = ContextVar("xacthuc_request_id", default=None)

#: Extra fields a log call may attach (``log.info("request", extra={"http": {...}})``): copied into the JSON line.
EXTRA_FIELDS = ("http",)

_NOISY = ("web3", "urllib3", "alembic.runtime.migration", "httpx")
_MASK = "***"
_HANDLER_NAME = "xacthuc"


def log_format(settings: Settings, stream: Any = None) -> Literal["json", "text"]:
    """The format ``settings.log_format`` asks for; ``auto``: readable text in development mode at a terminal, JSON
    everywhere else (a file, a pipe, a service manager's journal: whatever reads it is a machine)."""
    if settings.log_format != "auto":
        return settings.log_format
    stream = sys.stderr if stream is None else stream
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return "text" if settings.dev_mode and tty else "json"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``msg``, the
    ``request_id`` inside a request, the request line's ``http`` fields, and ``exc`` (the traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, dict):
                line.update(value)
        if record.exc_info:
            line["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            line["exc"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable format: ``time level logger [request id]: message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s%(fields)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = REQUEST_ID.get()
        record.rid = f" [{request_id}]" if request_id else ""
        fields: dict[str, Any] = {}
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, dict):
                fields.update(value)
        record.fields = "".join(f" {k}={v}" for k, v in fields.items())
        return super().format(record)


class SecretMask(logging.Formatter):
    """Another formatter's line with each known secret (the keystore passphrase, the database password, the RPC
    URLs' credentials) replaced with ``***``: whatever a library puts in an exception's message, they stay out."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        # longest first: a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, _MASK)
        return line


def known_secrets(settings: Settings) -> list[str]:
    """The secrets the settings hold, as they could appear in a log line."""
    found: list[str] = []
    if settings.keystore_passphrase:
        found.append(settings.keystore_passphrase)
    for url in (u.strip() for u in (settings.rpc_url or "").split(",")):
        if url and redact_rpc_url(url) != url:
            found.append(url)  # whole first (a message quoting the URL), then the parts the redaction hides
            found += _hidden_parts(url, redact_rpc_url(url))
    if settings.database_url:
        try:  # resolved: the password may come from XACTHUC_DATABASE_PASSWORD_FILE, not the URL
            password = make_url(settings.resolved_database_url()).password
        except Exception:  # an unparseable URL or unreadable file fails elsewhere, loudly; nothing to mask here
            password = None
        if password:
            found.append(str(password))
    return found


def _hidden_parts(url: str, redacted: str) -> list[str]:
    """The pieces of ``url`` its redaction replaced with ``***`` (user info, key-like path segments, query values)."""
    parts = urlsplit(url)
    hidden: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        hidden += [userinfo, userinfo.partition(":")[2]]  # the password alone, too
    redacted_path = urlsplit(redacted).path.split("/")
    hidden += [s for s, r in zip(parts.path.split("/"), redacted_path, strict=False) if r == _MASK and s != r]
    hidden += [pair.split("=", 1)[1] for pair in parts.query.split("&") if "=" in pair and pair.split("=", 1)[1]]
    return hidden


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each line (a test harness or a daemon may replace it meanwhile)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(settings: Settings, stream: Any = None) -> None:
    """Configure the root logger for the process: the level and format the settings say, to standard error (or
    ``stream``). Called again, it replaces the handler it installed before. As ``logging.basicConfig``, it leaves
    alone a process whose logging someone else set up (a test harness: pytest's capture) unless given a stream."""
    root = logging.getLogger()
    if stream is None and any(h.get_name() != _HANDLER_NAME for h in root.handlers):
        return
    handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    inner: logging.Formatter = JsonFormatter() if log_format(settings, handler.stream) == "json" else TextFormatter()
    handler.setFormatter(SecretMask(inner, known_secrets(settings)))
    handler.set_name(_HANDLER_NAME)
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn logs through the root handler (serve passes log_config=None); its access lines are ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
