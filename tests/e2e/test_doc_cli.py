"""``xacthuc doc issue|import|show|revoke`` as a user runs them: real processes on a fresh data dir with the embedded
anvil on a free port. Issue a file, import a directory and a CSV (progress on stderr), ``xacthuc anchor --wait``,
``doc show`` says anchored, ``verify`` the link from the data dir, read only (``error`` with no node running: it
starts none; ``valid`` with the data dir's chain served), ``doc revoke``, ``verify`` again (revoked, exit 1). Bad
input exits 2 with a typed error code and never a traceback."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.chain import anvil_binary
from xacthuc.devchain import AnvilNode, free_port

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}
ISSUE_OPTIONS = [
    "--title", META["title"], "--issuing-body", META["issuing_body"], "--place", META["place"],
    "--issued-on", META["issued_on"], "--signer-name", META["signer_name"], "--signer-title", META["signer_title"],
]  # fmt: skip


class Cli:
    """``xacthuc`` in a subprocess on one data dir; the embedded anvil of each command listens on ``anvil_port``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.anvil_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
        self.env.update(
            XACTHUC_DATA_DIR=str(data_dir),
            XACTHUC_ANVIL_PORT=str(self.anvil_port),
            XACTHUC_PUBLIC_URL=PUBLIC,
            XACTHUC_DEV_MODE="true",  # the data dir of `make run` (serve --dev): its generated passphrase
            COLUMNS="200",  # one progress line, whatever the terminal
        )

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [sys.executable, "-c", "from xacthuc.cli import main; main()", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert r.returncode == code, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        assert "Traceback" not in r.stderr + r.stdout, r.stderr
        return r

    def json(self, *args: str, code: int = 0) -> Any:
        r = self.run(*args, "--json", code=code)
        return json.loads(r.stdout)

    def error(self, *args: str, text: bool = False) -> dict[str, Any]:
        """A command that must fail with exit 2 and a typed error (in JSON; with ``text`` also as a person sees it)."""
        body = self.json(*args, code=2)
        assert set(body) == {"error"} and body["error"]["code"].isupper(), body
        if text:
            r = self.run(*args, code=2)
            assert f"error {body['error']['code']}:" in " ".join(r.stderr.split()), r.stderr
        return dict(body["error"])

    @contextlib.contextmanager
    def node(self) -> Iterator[str]:
        """The data dir's chain, served the way ``serve`` would while ``verify`` reads it (``verify`` never starts a
        node of its own)."""
        node = AnvilNode(anvil_binary(), port=self.anvil_port, state_file=self.data_dir / "anvil" / "state.json")
        node.start()
        try:
            yield node.url
        finally:
            node.stop()

    def stop_anvil(self) -> None:
        """Each command stops its anvil; after a failed assertion one may be left: find it by its port, kill it."""
        found = subprocess.run(
            ["pgrep", "-f", f"anvil .*--port {self.anvil_port}( |$)"], capture_output=True, text=True
        )
        for pid in found.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    c = Cli(tmp_path / "var")
    c.run("init")  # in development mode: the demo agencies, as `make run` makes them
    try:
        yield c
    finally:
        c.stop_anvil()


def _archive(tmp_path: Path) -> tuple[Path, Path]:
    """A directory (``X`` with ``X.json``) of two documents and a CSV of two more."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for n in (101, 102):
        (folder / f"qd-{n}.pdf").write_bytes(b"%PDF-1.7 decision " + str(n).encode())
        (folder / f"qd-{n}.pdf.json").write_text(
            json.dumps({**META, "number": f"{n}/QĐ-UBND", "signing_form": "KT."}, ensure_ascii=False), "utf-8"
        )
    table = tmp_path / "csv" / "archive.csv"
    (table.parent / "files").mkdir(parents=True)
    with table.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["file", "number", *META])
        writer.writeheader()
        for n in (201, 202):
            (table.parent / "files" / f"{n}.pdf").write_bytes(b"%PDF-1.7 csv " + str(n).encode())
            writer.writerow({"file": f"files/{n}.pdf", "number": f"{n}/QĐ-UBND", **META})
    return folder, table


def test_issue_import_anchor_show_revoke_verify(cli: Cli, tmp_path: Path) -> None:
    decision = tmp_path / "2392.pdf"
    decision.write_bytes(b"%PDF-1.7 the decision")
    issued = cli.json("doc", "issue", str(decision), "--number", "Số: 2392/qđ-ubnd", *ISSUE_OPTIONS)
    assert issued["number"] == "2392/QĐ-UBND" and issued["status"] == "pending"
    assert issued["verify_url"].startswith(PUBLIC + "/v#XD1:")
    assert issued["receipt"]["document_id"] == issued["id"] and issued["receipt"]["issuer_id"] == "ubnd-hcm"

    folder, table = _archive(tmp_path)
    from_dir = cli.run("doc", "import", str(folder))
    assert "importing" in from_dir.stderr and "2/2" in from_dir.stderr
    assert "issued 2, skipped 0 (already issued), failed 0, of 2 rows" in from_dir.stdout
    from_csv = cli.json("doc", "import", str(table))
    assert from_csv["issued"] == 2 and len(set(from_csv["ids"])) == 2

    anchored = cli.json("anchor", "--wait")
    assert anchored["pending_leaves"] == 0 and anchored["total_leaves"] == 5

    shown = cli.json("doc", "show", issued["id"].lower())
    assert shown["status"] == "anchored" and shown["proof"]["leaf"] == issued["receipt"]["commitment"]
    assert shown["title"] == META["title"] and shown["verify_url"] == issued["verify_url"]
    text = cli.run("doc", "show", from_csv["ids"][0])
    assert "anchored" in text.stdout and "201/QĐ-UBND" in text.stdout

    assert cli.json("verify", issued["verify_url"], code=2)["verdict"] == "error"  # no chain: no node of its own
    with cli.node() as rpc_url:
        assert cli.json("verify", issued["verify_url"], "--rpc-url", rpc_url)["verdict"] == "valid"

    revoked = cli.json("doc", "revoke", issued["id"], "--reason", "annulled", "--note", "ký nhầm")
    assert revoked["status"] == "revoked" and revoked["revocation"]["reason"] == "annulled"
    with cli.node() as rpc_url:
        report = cli.json("verify", issued["verify_url"], "--rpc-url", rpc_url, code=1)
    assert report["verdict"] == "revoked"
    assert {c["name"]: c["code"] for c in report["checks"]}["not_revoked"] == "DOC_REVOKED"
    assert cli.error("doc", "revoke", issued["id"], "--reason", "annulled")["code"] == "DOC_ALREADY_REVOKED"


def test_bad_input_exits_2_with_a_typed_error(cli: Cli, tmp_path: Path) -> None:
    decision = tmp_path / "d.pdf"
    decision.write_bytes(b"%PDF-1.7")
    bad_number = cli.error("doc", "issue", str(decision), "--number", "QĐ-UBND", *ISSUE_OPTIONS, text=True)
    assert bad_number["code"] == "DOC_NUMBER_INVALID" and bad_number["field"] == "number"
    future = list(ISSUE_OPTIONS)
    future[future.index("--issued-on") + 1] = "2999-01-01"
    assert cli.error("doc", "issue", str(decision), "--number", "1/QĐ-UBND", *future)["code"] == "DOC_FIELD_INVALID"

    folder, table = _archive(tmp_path)
    (folder / "qd-102.pdf.json").write_text(json.dumps({**META, "number": "102/QĐ-UBND", "place": " "}), "utf-8")
    # doc import reports a bad row with its file name (CSV: line) and field, issues the others, and exits 1
    missing = cli.json("doc", "import", str(folder), code=1)["failed"]
    assert [(f["row"], f["field"], f["code"]) for f in missing] == [("qd-102.pdf", "place", "DOC_FIELD_MISSING")]
    (folder / "qd-102.pdf.json").write_text("{not json", "utf-8")
    assert cli.json("doc", "import", str(folder), code=1)["failed"][0]["code"] == "CLI_INPUT_INVALID"
    (table.parent / "files" / "202.pdf").unlink()
    assert cli.json("doc", "import", str(table), code=1)["failed"][0]["code"] == "FILE_NOT_FOUND"
    assert cli.error("doc", "import", str(table.parent / "nothing.csv"))["code"] == "FILE_NOT_FOUND"

    assert cli.error("doc", "show", "01J0000000000000000000000Z")["code"] == "DOC_NOT_FOUND"
    assert cli.error("doc", "show", "not-an-id")["code"] == "DOC_NOT_FOUND"
    broken_bundle = tmp_path / "bundle.json"
    broken_bundle.write_text("{not json", "utf-8")
    assert cli.error("verify", str(broken_bundle), text=True)["code"] == "CLI_INPUT_INVALID"
