"""The ``xacthuc`` command line: a thin layer over the services and the domain packages."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from keys.errors import XacthucError
from xacthuc.settings import Settings, load_settings

app = typer.Typer(
    name="xacthuc",
    help="xacthuc: verifiable administrative documents and digital IDs for Ho Chi Minh City.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
chain_app = typer.Typer(help="The Ethereum node and the document registry.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")

err = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: XACTHUC_DATA_DIR, else ./var)", show_default=False),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


def settings_for(data_dir: Path | None, **overrides: Any) -> Settings:
    return load_settings(data_dir, **overrides)


class StorageUnavailable(XacthucError):
    """The data directory or the database could not be used."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


def fail(message: str, code: str = "ERROR", exit_code: int = 2, as_json: bool = False) -> typer.Exit:
    return _report({"code": code, "message": message}, exit_code, as_json)


def error_exit(exc: XacthucError, as_json: bool = False) -> typer.Exit:
    """The one way a command reports a typed error: ``{"error": ...}`` on stdout with ``--json``, else one line on
    standard error; exit code 2. Never a traceback."""
    return _report(exc.to_dict(), 2, as_json)


def _report(error: dict[str, str], exit_code: int, as_json: bool) -> typer.Exit:
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
    else:  # messages hold [brackets] and paths: never markup
        err.print(f"[red]error[/red] {escape(error['code'])}: {escape(error['message'])}", highlight=False)
    return typer.Exit(exit_code)


def _as_typed(exc: BaseException) -> XacthucError | None:
    """The typed error for what a command let through: a database or file it could not use (a mistyped data dir,
    a missing permission), else None (a bug, which keeps its traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, XacthucError):
        return exc
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None) or exc
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return StorageUnavailable(f"the database could not be used: {first}")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return StorageUnavailable(f"{where}{exc.strerror or type(exc).__name__}")
    return None


def _setup_logging() -> None:
    level = os.environ.get("XACTHUC_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("web3", "urllib3", "alembic.runtime.migration", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
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
) -> None:
    """Serve the API, the web pages and the anchoring worker (and the embedded anvil without XACTHUC_RPC_URL).

    Outside development mode the data dir must hold a city (`xacthuc init`) and the keystore passphrase must be
    given (XACTHUC_KEYSTORE_PASSPHRASE or _FILE)."""
    import uvicorn

    from keys.bootstrap import CREDENTIALS_FILE
    from xacthuc.app import create_app
    from xacthuc.services import build_services

    _setup_logging()
    settings = settings_for(data_dir, host=host, port=port, dev_mode=True if dev else None)
    credentials = settings.data_dir / CREDENTIALS_FILE
    fresh = settings.dev_mode and not credentials.exists()
    services = build_services(settings, create_city=settings.dev_mode)
    if fresh and credentials.exists():
        _announce_dev_credentials(credentials)
    # uvicorn re-raises SIGTERM after its graceful shutdown; by default that would end the process before the
    # finally below stops the worker and the embedded node. As an exception, it unwinds through it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if worker:
            services.start_worker()
        services.start_indexer()  # every replica follows the registry's events for its verifications
        application = create_app(services)
        mode = " in DEVELOPMENT mode" if settings.dev_mode else ""
        err.print(f"xacthuc serving on http://{settings.host}:{settings.port}{mode} (data dir {settings.data_dir})")
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
    finally:
        services.close()
        err.print("xacthuc stopped")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _announce_dev_credentials(path: Path) -> None:
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


@app.command()
def init(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Create a new city in the data dir: its keystore (passphrase from XACTHUC_KEYSTORE_PASSPHRASE or _FILE) and
    root key. No agency is created and no secret is printed: add agencies with `xacthuc agency create`."""
    from datetime import UTC, datetime

    from xacthuc.citysetup import init_city

    settings = load_settings(data_dir)
    try:
        city = init_city(settings, datetime.now(UTC))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    result = {
        "data_dir": str(settings.data_dir),
        "root_kid": city.root_signer.kid,
        "admin_address": city.admin_address,
        "dev_mode": settings.dev_mode,
    }
    if as_json:
        print(json.dumps(result))
        return
    print(f"city created in {settings.data_dir}")
    print(f"root key: {result['root_kid']} (third parties pin it: GET /v1/trust-root)")
    print(f"admin account (deploys the registry; fund it on your chain): {result['admin_address']}")
    if settings.dev_mode:
        print(f"development mode: the demo agencies' API keys are in {settings.data_dir / 'dev-credentials.json'}")
    print("next: xacthuc agency create --name NAME --roles ROLES")


@app.command("worker")
def worker_cmd(data_dir: DataDir = None) -> None:
    """Run only the anchoring worker (for scaled deployments: one elected worker, many API replicas)."""
    from xacthuc.services import build_services

    _setup_logging()
    services = build_services(load_settings(data_dir))
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    try:
        services.start_worker()
        err.print("anchoring worker running; Ctrl-C stops it")
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@app.command()
def anchor(
    data_dir: DataDir = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every queued leaf is confirmed")] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 300.0,
    as_json: JsonFlag = False,
) -> None:
    """Cut and send batches for every queued leaf now; with --wait, until all are confirmed on chain."""
    from xacthuc.anchor_cmd import run_anchor

    _setup_logging()
    try:
        result = run_anchor(load_settings(data_dir), wait=wait, timeout=timeout, progress=not as_json)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(result))
    else:
        out.print(f"anchored batches: {result['confirmed_batches']}, leaves waiting: {result['pending_leaves']}")
    if wait and result["pending_leaves"]:
        raise typer.Exit(1)


@chain_app.command("status")
def chain_status(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Show the chain the service uses: RPC URL (credentials redacted), chain id, head block, registry."""
    from xacthuc.anchor_cmd import chain_status as status

    _setup_logging()
    try:
        info = status(load_settings(data_dir))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:>16}: {value}")


@functools.cache  # once per process: main() may run more than once in one (tests)
def _register_part_commands() -> None:
    """The sub-commands of the other parts (keys, documents, identity, verifier), imported when the CLI runs."""
    from xacthuc import cli_docs, cli_identity, cli_keys

    app.add_typer(cli_keys.agency_app, name="agency")
    app.add_typer(cli_keys.keys_app, name="keys")
    app.add_typer(cli_docs.doc_app, name="doc")
    app.command("verify")(cli_docs.verify_cmd)
    app.add_typer(cli_identity.id_app, name="id")
    app.add_typer(cli_identity.wallet_app, name="wallet")


def main() -> None:
    from xacthuc.recursion import cap_recursion_limit

    _register_part_commands()
    cap_recursion_limit()  # after the imports: a dependency's raised limit would let deep JSON crash the process
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: a user error is one line, never a traceback
        typed = _as_typed(exc)
        if typed is None:
            raise
        raise SystemExit(error_exit(typed, "--json" in sys.argv[1:]).exit_code) from None
