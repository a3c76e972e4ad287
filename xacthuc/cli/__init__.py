"""The ``xacthuc`` command line: a thin layer over the services and the domain packages.

One module per group of commands; what they share (``--data-dir``, ``--json``, the one error printer, settings
loading, the unlocked city) lives in :mod:`xacthuc.cli._common`. ``main`` is the entry point (``xacthuc``).
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from xacthuc.cli import (
    authority,
    backup,
    chain,
    doc_import,
    doc_stamp,
    docs,
    identity,
    init,
    keys,
    offices,
    serve,
    staff,
    verify,
)
from xacthuc.cli._common import CliUsageError, as_typed, error_exit, json_requested
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
keys.agency_app.add_typer(authority.authority_app, name="authority")
app.add_typer(keys.agency_app, name="agency")
app.add_typer(keys.keys_app, name="keys")
docs.doc_app.command("import")(doc_import.doc_import)
docs.doc_app.command("stamp")(doc_stamp.doc_stamp)
app.add_typer(docs.doc_app, name="doc")
app.command("verify")(verify.verify_cmd)
app.add_typer(identity.id_app, name="id")
app.add_typer(identity.wallet_app, name="wallet")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(offices.office_app, name="office")
app.add_typer(offices.delegation_app, name="delegation")
app.command("audit")(staff.audit_cmd)
app.add_typer(backup.backup_app, name="backup")


def _plain_help(command: Any) -> None:
    """Help as plain text (no Rich boxes or styles) for a pipe or a file, on the command and all below it."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _usage_error(exc: typer.TyperException, as_json: bool) -> int:
    """A command line the command does not understand: ``CLI_USAGE`` in JSON with ``--json``, else the usage, the
    hint to ``--help`` and the one error line; exit code 2 (help asked for by no arguments is shown as it is)."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and not as_json:
        print(exc.format_message(), file=sys.stderr)
        return 2
    if not as_json and ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
        print(f"Try '{ctx.command_path} --help' for help.", file=sys.stderr)
    raise error_exit(CliUsageError(exc.format_message()), as_json)


def main() -> None:
    """``xacthuc ARGS``: a user error is one line (or ``{"error": ...}`` with ``--json``, usage errors included) and
    exit code 2, never a traceback; Ctrl-C is exit code 130. Help and errors are plain text when standard output
    is not a terminal."""
    cap_recursion_limit()  # after the imports: a dependency's raised limit would let deep JSON crash the process
    args = sys.argv[1:]
    as_json = json_requested(args)
    command = typer.main.get_command(app)
    if not sys.stdout.isatty():
        _plain_help(command)
    try:
        code = command.main(args, prog_name="xacthuc", standalone_mode=False)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        print("Aborted.", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as exc:
        try:
            sys.exit(_usage_error(exc, as_json))
        except typer.Exit as done:
            sys.exit(done.exit_code)
    except Exception as exc:  # the last line of defence
        typed = as_typed(exc)
        if typed is None:
            raise
        raise SystemExit(error_exit(typed, as_json).exit_code) from None
    sys.exit(code if isinstance(code, int) else 0)
