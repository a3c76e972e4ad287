"""Issue 10, "CLI that tells the truth": what the ``xacthuc`` command prints, run through its real entry point
(``xacthuc.cli.main``) in this process, standard output and error captured (so neither is a terminal).

- ``--json`` is a flag of every command; with it every error is ``{"error": {"code", "message"}}`` and exit 2,
  usage errors too (``CLI_USAGE``: a missing option, a bad value, an unknown command).
- Help is plain text outside a terminal: no Rich markup, no box drawing.
- Links are built on the configured ``XACTHUC_PUBLIC_URL``; without one, none is printed and that is said once.
  Links and ids are never wrapped outside a terminal.
- ``doc show`` prints the revocation and the proof; ``id issue`` prints the credential id.
- A missing file is ``FILE_NOT_FOUND`` naming the path, not ``PAYLOAD_UNRECOGNIZED`` (or a usage error).
- Commands act for an agency only with the role HTTP would require (``FORBIDDEN``), and nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session, select

from ledger.documents.issuing import DocumentRow
from xacthuc import cli
from xacthuc.cli import _common
from xacthuc.cli.docs import _print_doc
from xacthuc.database import make_engine
from xacthuc.services import init_city
from xacthuc.settings import load_settings

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
BOX = re.compile("[\u2500-\u257f]")
MARKUP = re.compile(r"\[/?(bold|red|green|yellow|blue|cyan|magenta|dim|italic|b|i)\b[^\]]*\]")
ISSUE = [
    "--number", "2392/QĐ-UBND", "--title", "Về việc phê duyệt kế hoạch chuyển đổi số năm 2026",
    "--issuing-body", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "--place", "Thành phố Hồ Chí Minh",
    "--issued-on", "2026-11-20", "--signer-name", "Nguyễn Văn A", "--signer-title", "Chủ tịch",
]  # fmt: skip
REGISTER = [
    "id", "register", "--cccd", "079303001234", "--full-name", "Nguyễn Thị Bình", "--birth-date", "2003-05-17",
    "--sex", "female", "--place-of-origin", "Huế", "--place-of-residence", "Quận 1, Thành phố Hồ Chí Minh",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A development city (demo agencies ubnd-hcm and ca-hcm) in a fresh data dir, a known registry (no chain)."""
    for name in list(os.environ):
        if name.startswith("XACTHUC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_DEV_MODE", "true")
    monkeypatch.setenv("XACTHUC_REGISTRY_ADDRESS", REGISTRY)
    monkeypatch.setenv("XACTHUC_WALLET_PASSPHRASE", "ví của Bình")
    monkeypatch.setenv("COLUMNS", "40")  # narrow: nothing may be wrapped to fit it
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    monkeypatch.setattr(_common, "_said", set())  # "said once" is per process: each test is one
    (tmp_path / "qd.pdf").write_bytes(b"%PDF-1.7 a decision")


@pytest.fixture
def city(_env: None) -> Path:
    settings = load_settings()
    init_city(settings, datetime.now(UTC))
    return settings.data_dir


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``xacthuc ARGS``: exit code, standard output, standard error."""
    monkeypatch.setattr(sys, "argv", ["xacthuc", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def json_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 2 and "Traceback" not in err, (out, err)
    body = json.loads(out)
    assert set(body) == {"error"} and set(body["error"]) <= {"code", "message", "field"}, body
    return dict(body["error"])


def _commands() -> dict[str, Any]:
    """Every leaf command of ``xacthuc`` by its path (``doc issue``)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{path} {name}".strip())
        else:
            found[path] = command

    walk(typer.main.get_command(cli.app), "")
    return found


# --- --json everywhere, and JSON errors --------------------------------------------------------------------------


def test_every_command_takes_json() -> None:
    missing = [path for path, c in _commands().items() if "--json" not in {o for p in c.params for o in p.opts}]
    assert missing == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["doc", "issue", "qd.pdf", "--json"], "--number"),  # a missing option
        (["keys", "compromise", "ubnd-hcm", "k1", "--at", "yesterday", "--json"], "ISO 8601"),  # a bad value
        (["anchor", "--timeout", "soon", "--json"], "--timeout"),  # a value of the wrong type
        (["doc", "shwo", "X", "--json"], "shwo"),  # an unknown command
        (["verify", "--json"], "INPUT"),  # a missing argument
        (["doc", "show", "X", "--jsn", "--json"], "--jsn"),  # an unknown option
    ],
)
def test_usage_errors_are_json_with_json(
    args: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = json_error(monkeypatch, capsys, *args)
    assert error["code"] == "CLI_USAGE" and says in error["message"], error


def test_usage_errors_without_json_are_one_error_line_after_the_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("Usage: xacthuc doc issue") and "--help" in lines[1]
    assert lines[-1].startswith("error CLI_USAGE: Missing option '--number'"), err
    assert not BOX.search(err)


def test_help_has_no_markup_or_boxes_outside_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in ["", "doc", "id", "wallet", "keys", "agency", "chain", *_commands()]:
        code, out, err = run(monkeypatch, capsys, *path.split(), "--help")
        assert code == 0 and out.startswith("Usage: xacthuc"), (path, out, err)
        assert not BOX.search(out) and not MARKUP.search(out) and "\x1b[" not in out, (path, out)


# --- links: only on a configured public URL, never wrapped ---------------------------------------------------------


def test_links_need_a_configured_public_url_and_say_so_once(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["verify_url"] is None and issued["qr_url"] is None
    assert err.count("XACTHUC_PUBLIC_URL is not set") == 1
    code, out, err = run(monkeypatch, capsys, "doc", "show", issued["id"])
    assert "http" not in out and "payload: XD1:" in out
    assert err.count("XACTHUC_PUBLIC_URL") == 0  # once per process: this test is one process


def test_links_use_the_public_url_and_are_never_wrapped(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XACTHUC_PUBLIC_URL", PUBLIC)
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE)
    assert code == 0 and "XACTHUC_PUBLIC_URL" not in err, err
    [link] = [line for line in out.splitlines() if "verify_url:" in line]
    assert re.fullmatch(rf"\s*verify_url: {re.escape(PUBLIC)}/v#XD1:\S{{100,}}", link), out
    [id_line] = [line for line in out.splitlines() if line.strip().startswith("id:")]
    assert re.fullmatch(r"\s*id: [0-9A-Z]{26}", id_line)


def test_doc_issue_repeated_answers_the_existing_document_with_its_status_and_notices(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["existing"] is False and first["status"] == "pending" and first["notices"] == []
    typed_without_d = [("2392/QD-UBND" if a == "2392/QĐ-UBND" else a) for a in ISSUE]
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *typed_without_d, "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["id"] == first["id"] and again["existing"] is True
    assert again["status"] == "pending"  # read from the database, never null
    assert {n["code"] for n in again["notices"]} == {"DOC_NUMBER_NORMALISED", "DOC_ALREADY_ISSUED"}
    code, out, err = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *typed_without_d)
    assert code == 0 and "status: pending" in out and "2392/QĐ-UBND" in err, (out, err)
    with Session(make_engine(load_settings().resolved_database_url())) as session:
        assert len(session.exec(select(DocumentRow)).all()) == 1


# --- doc show: the revocation and the proof --------------------------------------------------------------------


def test_doc_show_prints_the_revocation_and_the_proof(capsys: pytest.CaptureFixture[str]) -> None:
    path = ["0x" + "22" * 32, "0x" + "33" * 32]
    proof: dict[str, Any] = {
        "root": "0x" + "11" * 32,
        "path": path,
        "leaf": "0x" + "44" * 32,
        "chain_id": 31337,
        "contract": REGISTRY,
        "tx_hash": "0x" + "55" * 32,
        "block": 42,
        "anchored_at": "2026-11-20T01:02:03Z",
    }
    revocation = {
        "reason": "replaced",
        "note": "thay thế",
        "replaced_by": "01JREPLACEMENT0000000000000",
        "revoked_at": "2026-11-21T01:00:00Z",
        "state": "confirmed",
        "tx_hash": "0x" + "66" * 32,
        "block": 50,
        "confirmed_at": "2026-11-21T01:00:05Z",
    }
    body = {"id": "01J0", "status": "superseded", "verify_url": None, "receipt": {"payload": "XD1:ABC"}}
    _print_doc({**body, "proof": proof, "revocation": revocation}, as_json=False)
    out = capsys.readouterr().out
    for value in [*path, proof["root"], proof["leaf"], proof["tx_hash"], "block 42", "replaced, confirmed"]:
        assert str(value) in out, (value, out)
    for value in (revocation["replaced_by"], revocation["tx_hash"], revocation["note"]):
        assert f": {value}" in out, (value, out)
    _print_doc({**body, "status": "pending", "proof": None}, as_json=False)
    assert "proof: none yet" in capsys.readouterr().out


# --- id issue prints the credential id -------------------------------------------------------------------------


def test_id_issue_prints_the_credential_id(
    city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    citizen = json.loads(run(monkeypatch, capsys, *REGISTER, "--json")[1])["id"]
    code, out, _ = run(monkeypatch, capsys, "id", "issue", citizen)
    assert code == 0
    first, credential = out.strip().splitlines()
    found = re.fullmatch(r"credential (\S+) issued by ca-hcm \(not bound to a holder key\)", first)
    assert found is not None and credential.endswith("~"), out
    code, out, _ = run(monkeypatch, capsys, "id", "issue", citizen, "--out", str(tmp_path / "c.txt"))
    found = re.fullmatch(r"credential (\S+) issued by ca-hcm \(not bound to a holder key\), written to \S+\n", out)
    assert code == 0 and found is not None, out
    code, out, _ = run(monkeypatch, capsys, "id", "revoke", found.group(1), "--json")
    assert code == 0 and json.loads(out)["id"] == found.group(1)


# --- a missing file ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["verify", "qr-typo.png"], "INPUT"),
        (["verify", "./no/such/bundle.json"], "INPUT"),
        (["verify", "XD1:AAAA", "--file", "qr-typo.png"], "--file"),
        (["verify", "XD1:AAAA", "--trust-root", "qr-typo.png", "--rpc-url", "http://127.0.0.1:9"], "--trust-root"),
        (["verify", "XD1:AAAA", "--offline", "qr-typo.png"], "--offline"),
        (["doc", "issue", "qr-typo.png", *ISSUE], "FILE"),
        (["id", "issue", "C1", "--holder-jwk", "qr-typo.png"], "--holder-jwk"),
        (["wallet", "import", "qr-typo.png"], "SOURCE"),
        (["doc", "import", "archive-typo.csv"], "SOURCE"),
    ],
)
def test_a_missing_file_is_file_not_found(
    args: list[str], field: str, city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = next(a for a in reversed(args) if "typo" in a or "no/such" in a)
    error = json_error(monkeypatch, capsys, *args, "--json")
    assert error["code"] == "FILE_NOT_FOUND" and typo in error["message"], error
    assert error["field"] == field
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 2 and "error FILE_NOT_FOUND: file not found:" in err and typo in err, err


def test_a_payload_that_is_no_file_is_still_verified(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, "verify", "XD1:AAAA", "--json")
    assert code == 1 and json.loads(out)["verdict"] == "invalid"


# --- the same authorisation as HTTP --------------------------------------------------------------------------------


def _documents(data_dir: Path) -> int:
    engine = make_engine(load_settings().resolved_database_url())
    try:
        with Session(engine) as session:
            return len(session.exec(select(DocumentRow.id)).all())
    finally:
        engine.dispose()


def test_doc_issue_for_an_agency_without_documents_issue_is_forbidden(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = json_error(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--agency", "ca-hcm", "--json")
    assert error["code"] == "FORBIDDEN" and "documents:issue" in error["message"]
    assert _documents(city) == 0
    assert (
        json_error(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--agency", "nobody", "--json")["code"]
        == "AGENCY_NOT_FOUND"
    )
    code, out, _ = run(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--json")  # the only one that may
    assert code == 0 and json.loads(out)["agency_id"] == "ubnd-hcm"


def test_a_disabled_agency_can_do_nothing_from_the_cli(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, capsys, "agency", "disable", "ubnd-hcm", "--json")[0] == 0
    error = json_error(monkeypatch, capsys, "doc", "issue", "qd.pdf", *ISSUE, "--agency", "ubnd-hcm", "--json")
    assert error["code"] == "FORBIDDEN" and "disabled" in error["message"]
    assert _documents(city) == 0


def test_id_commands_for_an_agency_without_the_identity_roles_are_forbidden(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = json_error(monkeypatch, capsys, *REGISTER, "--agency", "ubnd-hcm", "--json")
    assert error["code"] == "FORBIDDEN" and "identity:issue" in error["message"]
    citizen = json.loads(run(monkeypatch, capsys, *REGISTER, "--json")[1])["id"]
    error = json_error(monkeypatch, capsys, "id", "issue", citizen, "--agency", "ubnd-hcm", "--json")
    assert error["code"] == "FORBIDDEN" and "identity:issue" in error["message"]
    credential = json.loads(run(monkeypatch, capsys, "id", "issue", citizen, "--json")[1])["id"]
    error = json_error(monkeypatch, capsys, "id", "revoke", credential, "--agency", "ubnd-hcm", "--json")
    assert error["code"] == "FORBIDDEN" and "identity:revoke" in error["message"]
    assert run(monkeypatch, capsys, "id", "revoke", credential, "--agency", "ca-hcm", "--json")[0] == 0


# --- plain tables in a pipe ------------------------------------------------------------------------------------


def test_tables_are_tab_separated_outside_a_terminal(
    city: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(monkeypatch, capsys, "agency", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "id\tname\troles\teth_address\tdisabled" and not BOX.search(out)
    assert any(line.startswith("ubnd-hcm\tỦy ban nhân dân Thành phố Hồ Chí Minh\tdocuments\t0x") for line in lines)
