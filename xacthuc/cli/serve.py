"""``xacthuc serve`` (the API, the pages, the worker and the chain index in one process) and ``xacthuc worker``
(the anchoring worker alone, for scaled deployments)."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Final

import typer

from keys.bootstrap import CREDENTIALS_FILE
from keys.limits import KEEP_ALIVE_SECONDS
from xacthuc.app import create_app
from xacthuc.cli._common import DataDir, JsonFlag, err, load_settings, setup_logging
from xacthuc.services import Role, build_services
from xacthuc.slow_clients import GuardedHttpToolsProtocol

__all__ = ["EVENT_LOOP", "HTTP_PARSER", "announce_dev_credentials", "serve", "worker"]

#: uvicorn's HTTP parser and event loop (both pinned in pyproject.toml).
HTTP_PARSER: Final = "httptools"
EVENT_LOOP: Final = "uvloop"


def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Run the anchoring worker")] = True,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Development mode (also XACTHUC_DEV_MODE=true): a fresh data dir gets a city with a generated "
            "passphrase and demo agencies",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Serve the API, the web pages and the anchoring worker (and the embedded anvil without XACTHUC_RPC_URL).

    Outside development mode the data dir must hold a city (`xacthuc init`) and the keystore passphrase must be
    given (XACTHUC_KEYSTORE_PASSPHRASE or _FILE)."""
    import uvicorn  # the server alone needs it: other commands start faster without

    settings = load_settings(data_dir, host=host, port=port, dev_mode=True if dev else None)
    setup_logging(settings)
    credentials = settings.data_dir / CREDENTIALS_FILE
    fresh = settings.dev_mode and not credentials.exists()
    services = build_services(settings, role=Role.SERVER)
    if fresh and credentials.exists():
        announce_dev_credentials(credentials)
    # uvicorn re-raises SIGTERM after its graceful shutdown; by default that would end the process before the
    # finally below stops the worker and the embedded node. As an exception, it unwinds through it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if worker:
            services.start_worker()
        services.start_indexer()  # every replica follows the registry's events for its verifications
        application = create_app(services)
        listening = f"http://{settings.host}:{settings.port}"
        if as_json:
            line = {"serving": listening, "dev_mode": settings.dev_mode, "data_dir": str(settings.data_dir)}
            print(json.dumps(line), flush=True)
        else:
            mode = " in DEVELOPMENT mode" if settings.dev_mode else ""
            err.print(f"xacthuc serving on {listening}{mode} (data dir {settings.data_dir})", markup=False)
        # log_config=None: uvicorn's lines go through our handler (JSON, request ids), not its own formatters
        # http/loop: httptools and uvloop, chosen by measurement (docs/benchmarks.md, "The HTTP layer"); the
        # parser as GuardedHttpToolsProtocol, which adds the header and body timeouts uvicorn lacks (docs/limits.md)
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            log_config=None,
            access_log=False,  # RequestLog logs each request, by path template: uvicorn's line has the query string
            http=GuardedHttpToolsProtocol,
            loop=EVENT_LOOP,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        services.close()
        _said("stopped", as_json)


def _said(event: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({event: True}), flush=True)
    else:
        err.print(f"xacthuc {event}", markup=False)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def announce_dev_credentials(path: Path) -> None:
    """Development mode, a fresh data dir: the demo API keys, shown once on an interactive terminal only.

    When standard error is not a terminal (a log file, a service manager's journal) only the file's path is said:
    a key in a log outlives the terminal it was meant for."""
    if not sys.stderr.isatty():
        print(f"New data dir: demo credentials written to {path} (mode 0600).", file=sys.stderr)
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [f"New data dir: demo credentials (also in {path}, mode 0600). They are shown only once."]
    if data.get("admin_token"):
        lines.append(f"  city admin token: {data['admin_token']}")
    for agency in data.get("agencies", []):
        lines.append(f"  {agency['name']} ({agency['id']}; {', '.join(agency['roles'])}):\n    {agency['api_key']}")
    print("\n".join(lines), file=sys.stderr)  # plain print: a wrapped key would be copied wrong


def worker(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Run only the anchoring worker (for scaled deployments: one elected worker, many API replicas)."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    services = build_services(settings, role=Role.WORKER)
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    try:
        services.start_worker()
        if as_json:
            print(json.dumps({"worker": "running", "data_dir": str(settings.data_dir)}), flush=True)
        else:
            err.print("anchoring worker running; Ctrl-C stops it")
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
