"""``xacthuc anchor`` (the anchoring worker driven from the command line), ``xacthuc chain status`` (the chain the
service uses, and the relayer account that pays for anchoring) and ``xacthuc chain deploy`` (a registry of this
build, replacing an outdated one)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.chain import redact_rpc_url
from ledger.chain.anchoring import pending_count, pending_revocations
from xacthuc.chainsetup import connect, deploy_registry, rpc_report
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, error_exit, load_settings, out, setup_logging
from xacthuc.services import Role, build_services
from xacthuc.settings import Settings

__all__ = ["anchor", "chain_app", "chain_deploy", "chain_status", "run_anchor"]

chain_app = typer.Typer(help="The Ethereum node and the document registry.", no_args_is_help=True)


def anchor(
    data_dir: DataDir = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every queued leaf is confirmed")] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 300.0,
    as_json: JsonFlag = False,
) -> None:
    """Cut and send batches for every queued leaf now; with --wait, until all are confirmed on chain.

    Exit code 2 with ANCHOR_ACCOUNT_UNFUNDED when the relayer account cannot pay (fund it, then run again)."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    try:
        result = run_anchor(settings, wait=wait, timeout=timeout, progress=not as_json)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(result))
    else:
        out.print(f"anchored batches: {result['confirmed_batches']}, leaves waiting: {result['pending_leaves']}")
    if wait and result["pending_leaves"]:
        raise typer.Exit(1)


def run_anchor(settings: Settings, *, wait: bool, timeout: float, progress: bool) -> dict[str, Any]:
    """Anchor what is queued now (and send queued revocations). When ``serve`` already runs the worker, wait."""
    services = build_services(settings, role=Role.WORKER)
    try:
        with Session(services.engine) as session:
            total = pending_count(session)
        with Progress(
            TextColumn("anchoring"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} leaves"),
            TimeElapsedColumn(),
            disable=not progress or total == 0,
        ) as bar:
            task = bar.add_task("anchor", total=total)
            leaves = total

            def left(session: Session) -> int:
                nonlocal leaves
                leaves = pending_count(session)
                return leaves + pending_revocations(session)

            confirmed, _ = services.drive_outbox(
                left,
                wait=wait,
                timeout=timeout,
                tick=lambda _: bar.update(task, completed=max(total - leaves, 0)),
            )
        with Session(services.engine) as session:
            revocations = pending_revocations(session)
        return {
            "confirmed_batches": confirmed,
            "pending_leaves": leaves,
            "total_leaves": total,
            "pending_revocations": revocations,
        }
    finally:
        services.close()


@chain_app.command("status")
def status(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Show the chain the service uses: the RPC endpoint in use and those down (credentials redacted), chain id,
    head block, registry."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    try:
        info = chain_status(settings)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        if key == "rpc_endpoints":
            for endpoint in value:
                state = "in use" if endpoint["in_use"] else "up" if endpoint["up"] else "down"
                failed = f", last error {endpoint['last_error']}" if endpoint["last_error"] else ""
                out.print(f"{'endpoint':>16}: {endpoint['url']} ({state}; {endpoint['errors']} errors{failed})")
        elif key == "rpc_down":
            out.print(f"{key:>16}: {', '.join(value) or 'none'}")
        else:
            out.print(f"{key:>16}: {value}")


def chain_status(settings: Settings) -> dict[str, Any]:
    services = build_services(settings, role=Role.WORKER)
    try:
        registry = services.registry()
        assert services.chain is not None and services.anchor_accounts is not None
        accounts = services.anchor_accounts
        accounts.refresh(force=True)
        chain_id, block = registry.chain_id, registry.block_number
        rpc = rpc_report(registry.w3) or {"in_use": redact_rpc_url(services.chain.url), "down": [], "endpoints": []}
        return {
            "rpc_url": rpc["in_use"],  # the endpoint in use (of several: the one calls go to now)
            "rpc_down": rpc["down"],
            "rpc_endpoints": rpc["endpoints"],
            "embedded": services.chain.node is not None or not settings.rpc_url,
            "chain_id": chain_id,
            "block": block,
            "contract": registry.address,
            "relayer": accounts.relayer_address,
            "relayer_balance_wei": str(accounts.balances().get(accounts.relayer_address, "unknown")),
            "relayer_funded": not accounts.problems(),
        }
    finally:
        services.close()


@chain_app.command("deploy")
def deploy(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Deploy a registry of this build from the city admin account and record it (for REGISTRY_OUTDATED)."""
    settings = load_settings(data_dir)
    setup_logging(settings)
    try:
        info = chain_deploy(settings)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(info))
        return
    out.print(f"deployed DocumentRegistry at {info['contract']} on chain {info['chain_id']}")
    if settings.registry_address:
        out.print(f"set XACTHUC_REGISTRY_ADDRESS={info['contract']} (it names {settings.registry_address} now)")


def chain_deploy(settings: Settings) -> dict[str, Any]:
    """A new registry of this build, recorded in the data dir; refused while anything waits in the outbox (the
    receipts of waiting documents name the registry they were issued for: anchor them with the build that
    deployed it first)."""
    services = build_services(settings, role=Role.KEYS)
    try:
        with Session(services.engine) as session:
            waiting, revocations = pending_count(session), pending_revocations(session)
        if waiting or revocations:
            raise CliInputError(
                f"{waiting} document(s) and {revocations} revocation(s) wait for the current registry: anchor them"
                " first (`xacthuc anchor --wait` with the build that deployed it), then deploy"
            )
        city = services.require_city()
        handle = connect(settings)
        try:
            client = deploy_registry(settings, handle.w3, city.admin_account, city.admin_address)
        finally:
            handle.close()
        return {"chain_id": client.chain_id, "contract": client.address, "block": client.from_block}
    finally:
        services.close()
