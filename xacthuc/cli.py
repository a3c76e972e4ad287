"""The ``xacthuc`` command line: a thin layer over the services and the domain packages."""

from __future__ import annotations

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


def fail(message: str, code: str = "ERROR", exit_code: int = 2, as_json: bool = False) -> typer.Exit:
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}}))
    else:
        err.print(f"[red]error[/red] {code}: {message}")
    return typer.Exit(exit_code)


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
) -> None:
    """Serve the API, the web pages and the anchoring worker (and the embedded anvil without XACTHUC_RPC_URL)."""
    import uvicorn

    from xacthuc.app import create_app
    from xacthuc.services import build_services

    _setup_logging()
    settings = settings_for(data_dir, host=host, port=port)
    credentials = settings.data_dir / "dev-credentials.json"
    fresh = not credentials.exists()
    services = build_services(settings)
    if fresh and credentials.exists():
        _print_dev_credentials(credentials)
    # uvicorn re-raises SIGTERM after its graceful shutdown; by default that would end the process before the
    # finally below stops the worker and the embedded node. As an exception, it unwinds through it.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if worker:
            services.start_worker()
        services.start_indexer()  # every replica follows the registry's events for its verifications
        application = create_app(services)
        err.print(f"xacthuc serving on http://{settings.host}:{settings.port} (data dir {settings.data_dir})")
        uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning")
    finally:
        services.close()
        err.print("xacthuc stopped")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _print_dev_credentials(path: Path) -> None:
    """Shown once, on the terminal only (never logged): the demo agencies' API keys of a fresh data dir."""
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [f"New data dir: demo credentials (also in {path}, mode 0600). They are shown only once."]
    if data.get("admin_token"):
        lines.append(f"  city admin token: {data['admin_token']}")
    for agency in data.get("agencies", []):
        lines.append(f"  {agency['name']} ({agency['id']}; {', '.join(agency['roles'])}):\n    {agency['api_key']}")
    print("\n".join(lines), file=sys.stderr)  # plain print: a wrapped key would be copied wrong


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
        raise fail(exc.message, exc.code, as_json=as_json) from None
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
        raise fail(exc.message, exc.code, as_json=as_json) from None
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:>16}: {value}")


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
