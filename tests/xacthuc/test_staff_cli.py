"""``xacthuc staff create|list|disable|reset-password``, ``xacthuc audit --json`` and ``GET /v1/audit`` (admin)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from keys import agencies as ag
from keys import staff as st
from xacthuc import audit
from xacthuc.app import create_app
from xacthuc.services import Services, init_city
from xacthuc.settings import Settings, load_settings

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    from xacthuc.cli import app

    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", "a test passphrase for the cli")
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.delenv("XACTHUC_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    monkeypatch.delenv("XACTHUC_DEV_MODE", raising=False)
    init_city(load_settings(), datetime.now(UTC))
    r = CliRunner().invoke(
        app, ["agency", "create", "--name", "UBND Quận 1", "--roles", "documents", "--id", "ubnd-q1"]
    )
    assert r.exit_code == 0, r.output
    return app


def _json(cli: typer.Typer, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    r = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def test_staff_cli_create_list_disable(cli: typer.Typer, tmp_path: Path) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("mật-khẩu-dài-42\n", encoding="utf-8")
    made = _json(
        cli,
        "staff",
        "create",
        "--agency",
        "ubnd-q1",
        "--username",
        "An.Nguyen",
        "--role",
        "clerk",
        "--full-name",
        "Nguyễn Văn An",
        "--password-file",
        str(pw),
    )
    assert (made["username"], made["role"], made["full_name"]) == ("an.nguyen", "clerk", "Nguyễn Văn An")
    assert "password" not in made  # it came from the file: never echoed
    listed = _json(cli, "staff", "list", "--agency", "ubnd-q1")
    assert [(s["username"], s["disabled"]) for s in listed] == [("an.nguyen", False)]
    assert "password_hash" not in listed[0]
    again = _json(
        cli,
        "staff",
        "create",
        "--agency",
        "ubnd-q1",
        "--username",
        "an.nguyen",
        "--role",
        "clerk",
        "--password-file",
        str(pw),
        code=2,
    )
    assert again["error"]["code"] == "STAFF_EXISTS"
    assert _json(cli, "staff", "disable", "an.nguyen")["disabled"] is True
    assert _json(cli, "staff", "disable", "nobody", code=2)["error"]["code"] == "STAFF_NOT_FOUND"


def test_staff_cli_password_from_env_generate_and_refusals(cli: typer.Typer) -> None:
    env = {"XACTHUC_STAFF_PASSWORD": "from-the-environment-1"}
    _json(cli, "staff", "create", "--agency", "ubnd-q1", "--username", "binh", "--role", "manager", env=env)
    weak = _json(
        cli,
        "staff",
        "create",
        "--agency",
        "ubnd-q1",
        "--username",
        "chi",
        "--role",
        "clerk",
        env={"XACTHUC_STAFF_PASSWORD": "short"},
        code=2,
    )
    assert (weak["error"]["code"], weak["error"]["field"]) == ("STAFF_INPUT_INVALID", "password")
    none = _json(cli, "staff", "create", "--agency", "ubnd-q1", "--username", "chi", "--role", "clerk", code=2)
    assert none["error"]["code"] == "CLI_INPUT_INVALID"  # no terminal to prompt on: says how to give one
    role = _json(cli, "staff", "create", "--agency", "ubnd-q1", "--username", "chi", "--role", "admin", env=env, code=2)
    assert role["error"]["field"] == "role"
    reset = _json(cli, "staff", "reset-password", "binh", "--generate")
    settings = load_settings()
    from xacthuc.database import make_engine

    with Session(make_engine(settings.resolved_database_url())) as s:
        assert st.check_password(s, "binh", reset["password"]).username == "binh"
        with pytest.raises(st.SignInFailed):
            st.check_password(s, "binh", "from-the-environment-1")


def test_staff_changes_are_in_the_audit_log(cli: typer.Typer) -> None:
    env = {"XACTHUC_STAFF_PASSWORD": "from-the-environment-1"}
    _json(cli, "staff", "create", "--agency", "ubnd-q1", "--username", "binh", "--role", "clerk", env=env)
    _json(cli, "staff", "reset-password", "binh", env={"XACTHUC_STAFF_PASSWORD": "another-password-2"})
    _json(cli, "staff", "disable", "binh")
    entries = _json(cli, "audit", "--agency", "ubnd-q1")
    assert [(e["action"], e["actor"], e["detail"]["username"]) for e in entries] == [
        ("staff_disabled", "cli", "binh"),
        ("staff_password_reset", "cli", "binh"),
        ("staff_created", "cli", "binh"),
    ]
    assert "from-the-environment-1" not in json.dumps(entries)
    assert _json(cli, "audit", "--action", "staff_created", "--limit", "1")[0]["action"] == "staff_created"
    assert _json(cli, "audit", "--action", "nope", code=2)["error"]["code"] == "INVALID_INPUT"


# ----------------------------------------------------------------------------------------------------- GET /v1/audit
@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with Session(engine) as s:
        for agency_id, roles in (("tphcm", []), ("ubnd-q1", ["documents"])):
            ag.create_agency(s, name=agency_id, roles=roles, now=NOW, agency_id=agency_id)
        keys = {
            "admin": ag.issue_api_key(s, "tphcm", ["admin"], NOW).token,
            "clerk": ag.issue_api_key(s, "ubnd-q1", ["documents:issue"], NOW).token,
        }
        for i in range(5):
            audit.record(s, action="signin", actor=f"staff:user{i}", now=NOW, agency_id="ubnd-q1", address="10.0.0.1")
        audit.record(
            s,
            action="document_issued",
            actor="staff:user0",
            now=NOW,
            agency_id="ubnd-q1",
            document_id="01JDOC0000000000000000000A",
            detail={"number": "1/QĐ-UBND"},
        )
        s.commit()
    settings = Settings(_env_file=None, data_dir=tmp_path / "var")
    with TestClient(create_app(Services(settings=settings, engine=engine)), raise_server_exceptions=False) as c:
        yield c, keys


def test_get_audit_is_for_the_admin_only(client: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = client
    assert c.get("/v1/audit").status_code == 401
    r = c.get("/v1/audit", headers={"Authorization": f"Bearer {keys['clerk']}"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    r = c.get("/v1/audit", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert r.status_code == 200, r.text
    assert [e["action"] for e in r.json()["entries"]] == ["document_issued"] + ["signin"] * 5


def test_get_audit_filters_and_pages(client: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = client
    auth = {"Authorization": f"Bearer {keys['admin']}"}
    doc = c.get("/v1/audit", params={"document_id": "01jdoc0000000000000000000a"}, headers=auth).json()
    assert [(e["action"], e["detail"]) for e in doc["entries"]] == [("document_issued", {"number": "1/QĐ-UBND"})]
    seen: list[int] = []
    page = c.get("/v1/audit", params={"action": "signin", "limit": 2}, headers=auth).json()
    while True:
        seen += [e["id"] for e in page["entries"]]
        if page["next_before"] is None:
            break
        page = c.get(
            "/v1/audit", params={"action": "signin", "limit": 2, "before": page["next_before"]}, headers=auth
        ).json()
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    bad = c.get("/v1/audit", params={"action": "dance"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_INPUT"


def test_audit_refuses_unknown_actions() -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(None, action="dance", actor="cli", now=NOW)  # type: ignore[arg-type]
