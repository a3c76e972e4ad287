"""``xacthuc anchor`` and ``xacthuc chain status``: the anchoring worker driven from the command line, and the chain
the service uses."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from keys.errors import XacthucError
from xacthuc.anchor_cmd import chain_status, run_anchor
from xacthuc.cli._common import DataDir, JsonFlag, error_exit, load_settings, out, setup_logging

__all__ = ["anchor", "chain_app"]

chain_app = typer.Typer(help="The Ethereum node and the document registry.", no_args_is_help=True)


def anchor(
    data_dir: DataDir = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every queued leaf is confirmed")] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 300.0,
    as_json: JsonFlag = False,
) -> None:
    """Cut and send batches for every queued leaf now; with --wait, until all are confirmed on chain."""
    setup_logging()
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
def status(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Show the chain the service uses: RPC URL (credentials redacted), chain id, head block, registry."""
    setup_logging()
    try:
        info = chain_status(load_settings(data_dir))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:>16}: {value}")
