"""``xacthuc doc import``: issue a whole archive (a CSV of metadata rows with file names, or a directory of files
each with its ``.json`` metadata), resumably (``xacthuc.cli._importing``): rows already issued are skipped, each
failure is reported with its row and field, and what is committed is never hidden.

Exit code: 0 when every row is issued or skipped, 1 when a row failed or the import stopped (a chunk that could
not be committed: the rows from it on are not imported, a re-run continues), 2 for a usage error (nothing done),
130 after Ctrl-C (what was committed is reported). ``--dry-run`` checks every row and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from keys.errors import XacthucError
from ledger.documents.issuing import VN_TZ, IssuedDocument, issue_batch
from xacthuc import audit
from xacthuc.cli._archive import read_archive
from xacthuc.cli._common import DataDir, FileNotFound, JsonFlag, built, err, error_exit, out
from xacthuc.cli._importing import Importer, IssueFn, Item, Report, TickingSigner, where
from xacthuc.cli._progress import Tick, row_progress
from xacthuc.cli.docs import _document_agency
from xacthuc.services import Role

__all__ = ["doc_import"]


def _print_committed(report: Report) -> None:
    issued = [d for d in report.done if d.result == "issued"]
    last = f", the last from {where(issued[-1].row)} ({issued[-1].id})" if issued else ""
    err.print(
        f"the import failed; {len(issued)} documents were committed before it and stay issued{last}: run the same"
        " command again to continue (the rows already issued are skipped)",
        markup=False,
        highlight=False,
    )


def _print_report(report: Report) -> None:
    rows, failed = report.rows, len(report.failed)
    if report.dry_run:
        out.print(
            f"dry run, nothing written: {report.count('to_issue')} of {rows} rows would be issued,"
            f" {report.count('skipped')} skipped (already issued), {failed} failed",
            markup=False,
            highlight=False,
        )
    else:
        out.print(
            f"issued {report.count('issued')}, skipped {report.count('skipped')} (already issued), failed {failed},"
            f" of {rows} rows",
            markup=False,
            highlight=False,
        )
    for f in report.failed:
        out.print(f"  {where(f.row)}, {f.field or '-'}: {f.code}: {f.message}", markup=False, highlight=False)
    stopped = report.stopped
    if stopped is not None or report.interrupted:
        why = (
            "interrupted" if stopped is None else f"stopped at {where(stopped.row)}: {stopped.code}: {stopped.message}"
        )
        out.print(
            f"{why}\n{report.count('issued')} documents issued before it are committed and stay issued;"
            f" {report.not_imported} rows were not imported: run the same command again to import them"
            " (the rows already issued are skipped)",
            markup=False,
            highlight=False,
        )
    elif report.count("issued"):
        out.print("the worker anchors them (`xacthuc anchor --wait`)", markup=False, highlight=False)
    read_as = [d for d in report.done if d.note and d.result != "skipped"]
    if read_as:  # QD typed for QĐ: said once, with how many rows it concerns
        more = f" (and {len(read_as) - 1} more rows likewise)" if len(read_as) > 1 else ""
        out.print(f"{where(read_as[0].row)}: {read_as[0].note}{more}", markup=False, highlight=False)


def doc_import(
    source: Annotated[Path, typer.Argument(help="A CSV (file + metadata columns) or a directory")],
    agency: Annotated[str | None, typer.Option(help="Issuing agency id")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row (files, metadata, numbers) and write nothing")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Import an archive: rows already issued (same number, same file) are skipped, so a re-run continues where a
    failed or interrupted one stopped; each failure is reported with its CSV line (or file name) and field."""
    try:
        if not source.exists():
            raise FileNotFound(source, field="SOURCE")
        archive = read_archive(source)
        if archive.ignored_columns:
            ignored = ", ".join(archive.ignored_columns)
            err.print(f"note: columns ignored (not document fields): {ignored}", markup=False, highlight=False)
        with built(data_dir, Role.KEYS) as services, Session(services.engine) as session:
            city = services.require_city()
            agency_id = _document_agency(city, agency, session)
            issue: IssueFn | None = None
            if not dry_run:
                registry, address, public_url = (
                    services.document_registry(),
                    city.eth_address(agency_id),
                    services.settings.public_url,
                )

                def issue(items: Sequence[Item], tick: Tick) -> list[IssuedDocument]:
                    now = services.clock()
                    issued = issue_batch(
                        session,
                        agency_id=agency_id,
                        signer=TickingSigner(city.keyring(agency_id).signer(now), tick),
                        account_address=address,
                        registry=registry,
                        items=items,
                        now=now,
                        public_url=public_url,
                    )
                    # in the chunk's transaction: a chunk rolled back takes its entries with it
                    audit.record_issued(
                        session, issued, actor=audit.CLI_ACTOR, now=now, agency_id=agency_id, detail={"import": True}
                    )
                    return issued

            report = Report(rows=len(archive.rows), dry_run=dry_run)
            label = "checking" if dry_run else "importing"
            with row_progress(err, label, report.rows) as tick:
                importer = Importer(session, agency_id, issue, lambda: services.clock().astimezone(VN_TZ).date(), tick)
                try:
                    importer.run(archive.rows, report)
                except Exception:  # a bug: its traceback follows, after what it must not hide
                    _print_committed(report)
                    raise
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_report(report)
    if report.interrupted:
        raise typer.Exit(130)
    if report.failed or report.stopped is not None:
        raise typer.Exit(1)
