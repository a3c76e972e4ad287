"""``xacthuc doc import`` (issue 10): resumable, honest about every row, and a dry run that writes nothing.

Through the real entry point, in this process, on a city in a temporary data dir, on SQLite and PostgreSQL. A re-run
creates nothing twice (rows already issued, same number and same file, are skipped); a failure in the middle keeps
and reports what was committed, and a re-run continues; each failure names its CSV line (or file name) and field;
the same number with another file is ``DOC_NUMBER_TAKEN`` naming the document that has it; ``--dry-run`` checks
every row and leaves the database as it was; the progress moves per row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import create_city
from keys.keystore import TEST_KDF
from xacthuc import cli
from xacthuc.cli import _importing, doc_import
from xacthuc.cli._progress import row_progress
from xacthuc.database import make_engine, migrate

PASSPHRASE = "a production keystore passphrase"
NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
REGISTRY = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}
COLUMNS = ["file", "number", *META]


@pytest.fixture
def city(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A production city with the demo agencies (``ubnd-hcm`` issues documents), its registry configured so no chain
    is needed; yields an engine on its database for the test's own reads."""
    for name in list(os.environ):
        if name.startswith("XACTHUC_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    monkeypatch.setenv("COLUMNS", "400")
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        create_city(data_dir, session, PASSPHRASE, NOW, kdf=TEST_KDF, demo=True)
        session.commit()
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XACTHUC_DATABASE_URL", db_url)
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("XACTHUC_REGISTRY_ADDRESS", REGISTRY)
    monkeypatch.setenv("XACTHUC_CHAIN_ID", "31337")
    monkeypatch.chdir(tmp_path)  # no .env of the caller's
    yield engine
    engine.dispose()


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``xacthuc ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["xacthuc", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    code = exited.value.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def _import(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: Path, *extra: str, code: int = 0
) -> dict[str, Any]:
    exit_code, out, err = _run(
        monkeypatch, capsys, "doc", "import", str(source), "--agency", "ubnd-hcm", "--json", *extra
    )
    assert exit_code == code, f"exit {exit_code}\nstdout: {out}\nstderr: {err}"
    body: dict[str, Any] = json.loads(out)
    return body


def _archive(root: Path, rows: list[dict[str, str]], contents: dict[str, bytes] | None = None) -> Path:
    """A CSV at ``root/archive.csv`` with ``rows`` (metadata from META unless given); each row's file holds
    ``contents[file]`` or bytes of its own."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    table = root / "archive.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            full = {**META, **row}
            name = full["file"]
            if name and not (root / name).exists() and not full.get("_missing"):
                (root / name).write_bytes((contents or {}).get(name, b"%PDF-1.7 " + name.encode()))
            writer.writerow({k: v for k, v in full.items() if k in COLUMNS})
    return table


def _numbered(n: int, start: int = 1) -> list[dict[str, str]]:
    return [{"file": f"files/{i}.pdf", "number": f"{i}/QĐ-UBND"} for i in range(start, start + n)]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT id FROM ledger_document"))}


def _snapshot(engine: Engine) -> dict[str, int]:
    """Rows per table, every table."""
    return {t: _count(engine, t) for t in inspect(engine).get_table_names()}


def _line(table: Path, number: str) -> int:
    """The CSV line the record with ``number`` starts on (as a text editor numbers them)."""
    for i, line in enumerate(table.read_text(encoding="utf-8").splitlines(), 1):
        if f",{number}," in line:
            return i
    raise AssertionError(number)


# --- resumable: a re-run creates nothing twice ------------------------------------------------------------------


def test_a_rerun_creates_nothing_twice(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 3)
    table = _archive(tmp_path / "a", _numbered(7))
    first = _import(monkeypatch, capsys, table)
    assert (first["issued"], first["skipped"], first["failed"]) == (7, 0, [])
    assert len(set(first["ids"])) == 7 and set(first["ids"]) == _ids(city)
    assert [d["row"] for d in first["documents"]] == list(range(2, 9))  # CSV lines 2..8, in the archive's order

    again = _import(monkeypatch, capsys, table)
    assert (again["issued"], again["skipped"], again["failed"], again["ids"]) == (0, 7, [], [])
    assert [(d["row"], d["id"], d["result"]) for d in again["documents"]] == [
        (d["row"], d["id"], "skipped") for d in first["documents"]
    ]
    assert _count(city, "ledger_document") == 7 and _count(city, "ledger_leaf") == 7


def test_a_number_typed_without_the_vietnamese_letter_is_the_same_number_on_a_rerun(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contents = {"files/1.pdf": b"%PDF-1.7 one"}
    first = _import(
        monkeypatch, capsys, _archive(tmp_path / "a", [{"file": "files/1.pdf", "number": "1/QD-UBND"}], contents)
    )
    assert first["documents"][0]["number"] == "1/QĐ-UBND" and "QĐ" in first["documents"][0]["note"]
    again = _import(
        monkeypatch, capsys, _archive(tmp_path / "b", [{"file": "files/1.pdf", "number": "1/QĐ-UBND"}], contents)
    )
    assert (again["issued"], again["skipped"]) == (0, 1) and again["documents"][0]["id"] == first["ids"][0]


# --- a failure in the middle never hides what was committed ----------------------------------------------------------


def _fail_inserts_of(engine: Engine, number: str) -> None:
    """A real failure of the database on one row's insert (as a full disk or a dropped connection would be)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER fail_one BEFORE INSERT ON ledger_document WHEN NEW.number = :n"
                    " BEGIN SELECT RAISE(ABORT, 'the disk is full (test)'); END".replace(":n", f"'{number}'")
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION fail_one() RETURNS trigger AS $$ BEGIN IF NEW.number = '" + number + "' THEN"
                    " RAISE EXCEPTION 'the disk is full (test)'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER fail_one BEFORE INSERT ON ledger_document FOR EACH ROW EXECUTE FUNCTION fail_one()"
                )
            )


def _heal(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER fail_one" + ("" if engine.dialect.name == "sqlite" else " ON ledger_document")))


def test_a_failure_midway_keeps_and_reports_what_was_committed_and_a_rerun_continues(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 3)
    table = _archive(tmp_path / "a", _numbered(8))
    _fail_inserts_of(city, "5/QĐ-UBND")  # in the second chunk (rows 4-6)

    stopped = _import(monkeypatch, capsys, table, code=1)
    assert stopped["issued"] == 3 and set(stopped["ids"]) == _ids(city)  # the first chunk, committed and named
    assert [d["row"] for d in stopped["documents"]] == [2, 3, 4]
    assert stopped["stopped"]["code"] == "STORAGE_UNAVAILABLE" and "disk is full" in stopped["stopped"]["message"]
    assert stopped["stopped"]["row"] == _line(table, "4/QĐ-UBND")  # the chunk's first row: nothing of it is in
    assert stopped["not_imported"] == 5 and stopped["failed"] == []
    assert _count(city, "ledger_document") == 3 and _count(city, "ledger_leaf") == 3

    code, out, _ = _run(monkeypatch, capsys, "doc", "import", str(table), "--agency", "ubnd-hcm")
    assert code == 1 and "stopped at line 5: STORAGE_UNAVAILABLE" in out
    assert "skipped 3 (already issued)" in out  # the first chunk, from the run before
    assert "0 documents issued before it are committed and stay issued; 5 rows were not imported" in out

    _heal(city)
    resumed = _import(monkeypatch, capsys, table)
    assert (resumed["issued"], resumed["skipped"], resumed["failed"]) == (5, 3, [])
    skipped = {d["row"]: d["id"] for d in resumed["documents"] if d["result"] == "skipped"}
    assert skipped == {d["row"]: d["id"] for d in stopped["documents"]}
    assert _count(city, "ledger_document") == 8 and _count(city, "ledger_leaf") == 8


def test_an_interrupted_import_reports_what_was_committed(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 2)
    table = _archive(tmp_path / "a", _numbered(5))
    signed = _importing.TickingSigner.sign
    calls = {"n": 0}

    def sign(self: _importing.TickingSigner, message: bytes) -> bytes:
        calls["n"] += 1
        if calls["n"] == 4:  # Ctrl-C while the second chunk is being signed
            raise KeyboardInterrupt
        return signed(self, message)

    monkeypatch.setattr(_importing.TickingSigner, "sign", sign)
    body = _import(monkeypatch, capsys, table, code=130)
    assert body["interrupted"] is True and body["issued"] == 2 and set(body["ids"]) == _ids(city)
    assert body["not_imported"] == 3


# --- every failure with its row and field; the rest is issued --------------------------------------------------------


def test_each_failure_names_its_csv_line_and_field(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"file": "files/1.pdf", "number": "1/QĐ-UBND", "title": "Một trích yếu\ntrên hai dòng"},  # lines 2-3
        {"file": "files/2.pdf", "number": "2/QĐ-UBND", "issued_on": "2024-13-01"},
        {"file": "files/gone.pdf", "number": "3/QĐ-UBND", "_missing": "1"},
        {"file": "", "number": "4/QĐ-UBND"},
        {"file": "files/5.pdf", "number": "5/XYZ"},
        {"file": "files/6.pdf", "number": "6/QĐ-UBND", "place": ""},
        {"file": "files/7.pdf", "number": "7/QĐ-UBND"},
    ]
    table = _archive(tmp_path / "a", rows)
    body = _import(monkeypatch, capsys, table, code=1)
    assert [(f["row"], f["field"], f["code"]) for f in body["failed"]] == [
        (4, "issued_on", "DOC_FIELD_INVALID"),
        (5, "file", "FILE_NOT_FOUND"),
        (6, "file", "CLI_INPUT_INVALID"),
        (7, "number", "DOC_SYMBOL_UNKNOWN"),
        (8, "place", "DOC_FIELD_MISSING"),
    ]
    assert "gone.pdf" in body["failed"][1]["message"]
    assert [(d["row"], d["number"]) for d in body["documents"]] == [(2, "1/QĐ-UBND"), (9, "7/QĐ-UBND")]
    assert body["issued"] == 2 and _count(city, "ledger_document") == 2

    code, out, _ = _run(monkeypatch, capsys, "doc", "import", str(table), "--agency", "ubnd-hcm")
    assert code == 1 and "issued 0, skipped 2 (already issued), failed 5, of 7 rows" in out
    assert "line 5, file: FILE_NOT_FOUND: file not found:" in out


def test_a_directory_archive_names_each_failure_by_its_file(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    for n in (1, 2, 3):
        (folder / f"qd-{n}.pdf").write_bytes(b"%PDF-1.7 " + bytes([n]))
        (folder / f"qd-{n}.pdf.json").write_text(json.dumps({**META, "number": f"{n}/QĐ-UBND"}), "utf-8")
    (folder / "qd-2.pdf.json").write_text("{not json", "utf-8")
    (folder / "qd-3.pdf").unlink()
    body = _import(monkeypatch, capsys, folder, code=1)
    assert [(f["row"], f["field"], f["code"]) for f in body["failed"]] == [
        ("qd-2.pdf", "metadata", "CLI_INPUT_INVALID"),
        ("qd-3.pdf", "file", "FILE_NOT_FOUND"),
    ]
    assert [(d["row"], d["result"]) for d in body["documents"]] == [("qd-1.pdf", "issued")]


# --- numbers: the same number with another file ----------------------------------------------------------------------


def test_the_same_number_with_another_file_fails_naming_the_existing_document(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _archive(tmp_path / "a", _numbered(3))
    first = _import(monkeypatch, capsys, table)
    holder = first["documents"][1]["id"]  # 2/QĐ-UBND
    (tmp_path / "a" / "files" / "2.pdf").write_bytes(b"%PDF-1.7 another decision under the same number")
    again = _import(monkeypatch, capsys, table, code=1)
    assert [(f["row"], f["field"], f["code"]) for f in again["failed"]] == [(3, "number", "DOC_NUMBER_TAKEN")]
    assert holder in again["failed"][0]["message"] and "2/QĐ-UBND" in again["failed"][0]["message"]
    assert (again["issued"], again["skipped"]) == (0, 2) and _count(city, "ledger_document") == 3


def test_duplicates_inside_the_archive_are_one_document_or_a_failure(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 2)  # the repeats fall in other chunks than their first rows
    rows = [
        {"file": "files/1.pdf", "number": "1/QĐ-UBND"},
        {"file": "files/2.pdf", "number": "2/QĐ-UBND"},
        {"file": "files/1.pdf", "number": "1/QĐ-UBND"},  # the same document again
        {"file": "files/3.pdf", "number": "2/QĐ-UBND"},  # another document under 2/QĐ-UBND
    ]
    table = _archive(tmp_path / "a", rows)
    dry = _import(monkeypatch, capsys, table, "--dry-run", code=1)
    body = _import(monkeypatch, capsys, table, code=1)
    for report in (dry, body):
        assert [(f["row"], f["field"]) for f in report["failed"]] == [(5, "number")]
        assert report["failed"][0]["code"] in ("DOC_NUMBER_DUPLICATE", "DOC_NUMBER_TAKEN")
    assert dry["failed"][0]["code"] == "DOC_NUMBER_DUPLICATE" and "line 3" in dry["failed"][0]["message"]
    assert [(d["row"], d["result"]) for d in dry["documents"]] == [(2, "to_issue"), (3, "to_issue"), (4, "skipped")]
    assert body["issued"] == 2 and _count(city, "ledger_document") == 2
    assert body["documents"][2]["row"] == 4 and body["documents"][2]["id"] == body["documents"][0]["id"]


def test_a_row_repeated_in_one_chunk_is_one_document(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        *_numbered(2),
        {"file": "files/1.pdf", "number": "1/QĐ-UBND"},
        {"file": "files/9.pdf", "number": "2/QĐ-UBND"},
    ]
    body = _import(monkeypatch, capsys, _archive(tmp_path / "a", rows), code=1)  # one chunk
    assert [(d["row"], d["result"], d["note"]) for d in body["documents"]] == [
        (2, "issued", None),
        (3, "issued", None),
        (4, "skipped", "repeats line 2"),
    ]
    assert body["documents"][2]["id"] == body["documents"][0]["id"]
    assert [(f["row"], f["code"]) for f in body["failed"]] == [(5, "DOC_NUMBER_DUPLICATE")]
    assert "line 3" in body["failed"][0]["message"] and _count(city, "ledger_document") == 2


# --- --dry-run ---------------------------------------------------------------------------------------------------


def test_dry_run_checks_every_row_and_writes_nothing(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 2)
    _import(monkeypatch, capsys, _archive(tmp_path / "before", _numbered(2)))
    rows = [*_numbered(4), {"file": "files/9.pdf", "number": "9/QĐ-UBND", "issued_on": "2999-01-01"}]
    table = _archive(tmp_path / "before", rows)  # rows 1-2 issued already, from the same files
    monkeypatch.delenv("XACTHUC_REGISTRY_ADDRESS")  # a dry run needs no chain and no registry
    data_dir = Path(os.environ["XACTHUC_DATA_DIR"])
    before, files = _snapshot(city), sorted(data_dir.rglob("*"))

    body = _import(monkeypatch, capsys, table, "--dry-run", code=1)
    assert body["dry_run"] is True and (body["issued"], body["to_issue"], body["skipped"]) == (0, 2, 2)
    assert [(f["row"], f["field"], f["code"]) for f in body["failed"]] == [(6, "issued_on", "DOC_FIELD_INVALID")]
    assert _snapshot(city) == before and sorted(data_dir.rglob("*")) == files

    code, out, err = _run(monkeypatch, capsys, "doc", "import", str(table), "--agency", "ubnd-hcm", "--dry-run")
    assert code == 1 and "dry run, nothing written: 2 of 5 rows would be issued, 2 skipped" in out
    assert "checking 5/5 rows" in err
    assert _snapshot(city) == before


# --- progress, summary, exit codes -------------------------------------------------------------------------------


def _record_ticks(monkeypatch: pytest.MonkeyPatch, city: Engine) -> list[tuple[int, int]]:
    """Every tick of the import's progress: (rows ticked, documents in the database at that moment)."""
    ticks: list[tuple[int, int]] = []

    @contextlib.contextmanager
    def recording(console: Console, label: str, total: int, **kw: Any) -> Iterator[Callable[[int], None]]:
        with row_progress(console, label, total, **kw) as tick:

            def record(n: int = 1) -> None:
                ticks.append((n, _count(city, "ledger_document")))
                tick(n)

            yield record

    monkeypatch.setattr(doc_import, "row_progress", recording)
    return ticks


def test_progress_moves_per_row_not_per_chunk(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ticks = _record_ticks(monkeypatch, city)
    table = _archive(tmp_path / "a", [*_numbered(5), {"file": "", "number": "6/QĐ-UBND"}])
    _import(monkeypatch, capsys, table, code=1)  # one chunk of 6 rows
    assert [n for n, _ in ticks] == [1] * 6
    assert sum(1 for _, stored in ticks if stored == 0) == 6  # every tick came before the chunk's commit


def test_a_chunk_refused_for_one_row_is_checked_row_by_row_and_the_rest_issued(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Chunks go to issue_batch unchecked until one is refused: that one is rolled back, checked row by row and
    issued without its bad row; each row is counted once by the progress, even those signed before the refusal."""
    monkeypatch.setattr(_importing, "IMPORT_CHUNK", 3)
    _import(monkeypatch, capsys, _archive(tmp_path / "before", [{"file": "files/held.pdf", "number": "6/QĐ-UBND"}]))
    ticks = _record_ticks(monkeypatch, city)
    rows = [*_numbered(5), {"file": "files/other.pdf", "number": "6/QĐ-UBND"}, *_numbered(2, start=7)]
    table = _archive(tmp_path / "a", rows)  # the second chunk: 4, 5 signed, then 6 refused (another file)
    body = _import(monkeypatch, capsys, table, code=1)
    assert [(f["row"], f["code"]) for f in body["failed"]] == [(7, "DOC_NUMBER_TAKEN")]
    assert body["issued"] == 7 and _count(city, "ledger_document") == 8
    assert sum(n for n, _ in ticks) == 8  # 8 rows, 8 ticks: the rolled-back signatures are not counted twice


def test_without_a_terminal_progress_is_a_plain_line_every_n_rows() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    with row_progress(console, "importing", 2500, every=1000) as tick:
        for _ in range(2500):
            tick(1)
    lines = buffer.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "importing 1000/2500 rows",
        "importing 2000/2500 rows",
        "importing 2500/2500 rows in " + lines[2].split(" in ")[1].split(",")[0],
    ]
    assert all("rows/s" in line for line in lines) and "s left" in lines[0]
    assert "━" not in buffer.getvalue() and "\x1b" not in buffer.getvalue()


def test_on_a_terminal_the_bar_shows_the_rate_and_the_time_left() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with row_progress(console, "importing", 10) as tick:
        for _ in range(10):
            tick(1)
    shown = buffer.getvalue()
    assert "━" in shown and "10/10" in shown and "rows/s" in shown


def test_exit_codes_and_the_json_summary(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = _import(monkeypatch, capsys, _archive(tmp_path / "a", _numbered(2)))
    assert {"issued", "skipped", "failed", "ids"} <= set(body) and body["issued"] == 2

    no_file_column = tmp_path / "b.csv"
    no_file_column.write_text("number,title\n1/QĐ-UBND,x\n", "utf-8")
    code, out, _ = _run(monkeypatch, capsys, "doc", "import", str(no_file_column), "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "CLI_INPUT_INVALID"
    code, out, _ = _run(
        monkeypatch, capsys, "doc", "import", str(tmp_path / "a" / "archive.csv"), "--agency", "ca-hcm", "--json"
    )
    assert code == 2 and json.loads(out)["error"]["code"] == "FORBIDDEN"  # ca-hcm may not issue documents
    assert _count(city, "ledger_document") == 2


def test_columns_that_are_no_document_field_are_ignored_and_said(
    city: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "1.pdf").write_bytes(b"%PDF-1.7 one")
    table = tmp_path / "with-notes.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*COLUMNS, "ghi_chu"])
        writer.writeheader()
        writer.writerow({**META, "file": "1.pdf", "number": "1/QĐ-UBND", "ghi_chu": "bản lưu"})
    code, out, err = _run(monkeypatch, capsys, "doc", "import", str(table), "--agency", "ubnd-hcm", "--json")
    assert code == 0 and json.loads(out)["issued"] == 1
    assert "note: columns ignored (not document fields): ghi_chu" in err
