"""``xacthuc office add|end|list`` and ``xacthuc delegation add|revoke|list`` on a data dir, and ``xacthuc doc issue``
refused (exit 2, a typed code) when the agency's register does not cover the signer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session
from typer.testing import CliRunner

from tests.ledger.test_offices_register import confirm_all
from xacthuc.database import make_engine
from xacthuc.services import init_city
from xacthuc.settings import load_settings

AGENCY = "ubnd-q1"
ISSUE = [
    "doc", "issue", "--agency", AGENCY, "--title", "Về việc phê duyệt Kế hoạch", "--issuing-body", "UBND Quận 1",
    "--place", "Thành phố Hồ Chí Minh", "--issued-on", "2024-07-15", "--signer-title", "Phó Chủ tịch",
    "--signing-form", "KT.",
]  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    from xacthuc.cli import app

    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", "a test passphrase for the offices cli")
    monkeypatch.setenv("XACTHUC_REGISTRY_ADDRESS", "0x" + "11" * 20)  # documents are signed for it; no chain needed
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.delenv("XACTHUC_RPC_URL", raising=False)
    monkeypatch.delenv("XACTHUC_DEV_MODE", raising=False)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    init_city(load_settings(), datetime.now(UTC))
    r = CliRunner().invoke(app, ["agency", "create", "--name", "UBND Quận 1", "--roles", "documents", "--id", AGENCY])
    assert r.exit_code == 0, r.output
    return app


def _json(cli: typer.Typer, *args: str, code: int = 0) -> Any:
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def _anchor() -> None:
    engine = make_engine(load_settings().resolved_database_url())
    with Session(engine) as s:
        confirm_all(s, datetime.now(UTC))
    engine.dispose()


def test_office_and_delegation_commands_and_issuing_refused_through_the_cli(cli: typer.Typer, tmp_path: Path) -> None:
    head = _json(cli, "office", "add", AGENCY, "--title", "Chủ tịch", "--holder", "Nguyễn Văn An", "--from",
                 "2023-01-01", "--head", "--collective")  # fmt: skip
    assert head["seq"] == 1 and head["kind"] == "office.add" and head["status"] == "pending"
    deputy = _json(cli, "office", "add", AGENCY, "--title", "Phó Chủ tịch", "--holder", "Trần Thị Bình", "--from",
                   "2023-03-01", "--deputy-of", "o1")  # fmt: skip
    assert deputy["data"]["deputy_of"] == "o1"
    offices = _json(cli, "office", "list", AGENCY)
    assert [o["holder"] for o in offices] == ["Nguyễn Văn An", "Trần Thị Bình"]

    decision = tmp_path / "qd.pdf"
    decision.write_bytes(b"%PDF-1.7 a decision")
    refused = _json(cli, *ISSUE, "--number", "1/QĐ-UBND", "--signer-name", "Trần Thị Bình", str(decision), code=2)
    assert refused["error"]["code"] == "OFFICE_ENTRY_PENDING"
    _anchor()
    issued = _json(cli, *ISSUE, "--number", "1/QĐ-UBND", "--signer-name", "Trần Thị Bình", str(decision))
    assert issued["status"] == "pending" and issued["signer_name"] == "Trần Thị Bình"
    refused = _json(cli, *ISSUE, "--number", "2/QĐ-UBND", "--signer-name", "Trần Thị Bích", str(decision), code=2)
    assert refused["error"]["code"] == "SIGNER_NOT_IN_OFFICE"
    r = CliRunner().invoke(cli, [*ISSUE, "--number", "2/QĐ-UBND", "--signer-name", "Trần Thị Bích", str(decision)])
    assert r.exit_code == 2 and "SIGNER_NOT_IN_OFFICE" in r.output and "Traceback" not in r.output

    tuq = ["delegation", "add", AGENCY, "--form", "TUQ.", "--delegate", "Hoàng Thị Giang", "--delegate-title",
           "Trưởng phòng Nội vụ", "--for-office", "o1", "--types", "QĐ", "--from", "2024-01-01"]  # fmt: skip
    assert _json(cli, *tuq, code=2)["error"]["code"] == "OFFICE_FIELD_INVALID"
    made = _json(cli, *tuq, "--until", "2024-06-30", "--authorising-number", "15/QĐ-UBND")
    assert made["seq"] == 3
    revoked = _json(cli, "delegation", "revoke", AGENCY, "d3", "--from", "2024-03-01")
    assert revoked["kind"] == "delegation.revoke"
    [listed] = _json(cli, "delegation", "list", AGENCY)
    assert listed["authorising_number"] == "15/QĐ-UBND" and listed["revoked_from"] == "2024-03-01"
    assert _json(cli, "delegation", "revoke", AGENCY, "d3", "--from", "2024-04-01", code=2)["error"]["code"] == (
        "DELEGATION_ALREADY_REVOKED"
    )
    ended = _json(cli, "office", "end", AGENCY, "o2", "--until", "2024-05-31")
    assert ended["data"] == {"office": "o2", "until": "2024-05-31"}
    assert _json(cli, "office", "end", AGENCY, "o2", "--until", "2024-05-31", code=2)["error"]["code"] == (
        "OFFICE_ALREADY_ENDED"
    )
    assert _json(cli, "office", "list", "ubnd-q9") == []  # no register: nothing listed
    unknown = _json(cli, "office", "add", "ubnd-q9", "--title", "Chủ tịch", "--holder", "Ai Đó", "--from", "2024-01-01",
                    code=2)  # fmt: skip
    assert unknown["error"]["code"] == "AGENCY_NOT_FOUND"
    r = CliRunner().invoke(cli, ["office", "list", AGENCY])
    assert r.exit_code == 0 and "Trần Thị Bình" in r.output
