"""The ``xacthuc`` command line: a thin layer over the services and the domain packages.

One module per group of commands; what they share (``--data-dir``, ``--json``, the one error printer, settings
loading, the unlocked city) lives in :mod:`xacthuc.cli._common`. ``main`` is the entry point (``xacthuc``).
"""

from __future__ import annotations

import sys

import typer

from xacthuc.cli import chain, doc_import, docs, identity, init, keys, serve, verify
from xacthuc.cli._common import as_typed, error_exit
from xacthuc.recursion import cap_recursion_limit

__all__ = ["app", "main"]

app = typer.Typer(
    name="xacthuc",
    help="xacthuc: verifiable administrative documents and digital IDs for Ho Chi Minh City.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(chain.chain_app, name="chain")
app.command("serve")(serve.serve)
app.command("init")(init.init)
app.command("worker")(serve.worker)
app.command("anchor")(chain.anchor)
app.add_typer(keys.agency_app, name="agency")
app.add_typer(keys.keys_app, name="keys")
docs.doc_app.command("import")(doc_import.doc_import)
app.add_typer(docs.doc_app, name="doc")
app.command("verify")(verify.verify_cmd)
app.add_typer(identity.id_app, name="id")
app.add_typer(identity.wallet_app, name="wallet")


def main() -> None:
    """``xacthuc ARGS``: a user error is one line (or ``{"error": ...}`` with ``--json``) and exit code 2, never a
    traceback; Ctrl-C is exit code 130."""
    cap_recursion_limit()  # after the imports: a dependency's raised limit would let deep JSON crash the process
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence
        typed = as_typed(exc)
        if typed is None:
            raise
        raise SystemExit(error_exit(typed, "--json" in sys.argv[1:]).exit_code) from None
