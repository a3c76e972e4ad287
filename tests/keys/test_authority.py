"""Authority between agencies (keys/authority.py) on both databases, and ``xacthuc agency authority add|list|remove``
on a production data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from keys.agencies import Agency
from keys.authority import (
    AuthorityExists,
    AuthorityInvalid,
    AuthorityNotFound,
    add_authority,
    has_authority,
    list_authorities,
    remove_authority,
)
from keys.errors import AgencyNotFound
from xacthuc.services import init_city
from xacthuc.settings import load_settings

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def agencies(engine: Engine) -> Engine:
    with Session(engine) as s:
        for agency_id in ("ubnd-hcm", "ubnd-q1", "ubnd-p-ben-nghe"):
            s.add(Agency(id=agency_id, name=agency_id, roles=["documents"], created_at=NOW))
        s.commit()
    return engine


def test_authority_is_recorded_listed_and_removed(agencies: Engine) -> None:
    with Session(agencies) as s:
        added = add_authority(s, "ubnd-hcm", "ubnd-q1", now=NOW, note="Luật Tổ chức chính quyền địa phương")
        add_authority(s, "ubnd-q1", "ubnd-p-ben-nghe", now=NOW)
        s.commit()
    assert added.created_at == NOW
    with Session(agencies) as s:
        assert has_authority(s, "ubnd-hcm", "ubnd-q1") and not has_authority(s, "ubnd-q1", "ubnd-hcm")
        # Not transitive: the city over the district and the district over the ward is not the city over the ward.
        assert not has_authority(s, "ubnd-hcm", "ubnd-p-ben-nghe")
        assert [(a.superior_id, a.subordinate_id) for a in list_authorities(s)] == [
            ("ubnd-hcm", "ubnd-q1"),
            ("ubnd-q1", "ubnd-p-ben-nghe"),
        ]
        assert [a.note for a in list_authorities(s, "ubnd-hcm")] == ["Luật Tổ chức chính quyền địa phương"]
        assert len(list_authorities(s, "ubnd-q1")) == 2
        remove_authority(s, "ubnd-hcm", "ubnd-q1")
        s.commit()
    with Session(agencies) as s:
        assert not has_authority(s, "ubnd-hcm", "ubnd-q1")


def test_authority_errors(agencies: Engine) -> None:
    with Session(agencies) as s:
        with pytest.raises(AuthorityInvalid):
            add_authority(s, "ubnd-q1", "ubnd-q1", now=NOW)
        with pytest.raises(AuthorityInvalid):
            add_authority(s, "ubnd-hcm", "ubnd-q1", now=NOW, note="x" * 301)
        with pytest.raises(AgencyNotFound):
            add_authority(s, "ubnd-hcm", "no-such-agency", now=NOW)
        add_authority(s, "ubnd-hcm", "ubnd-q1", now=NOW)
        s.commit()
        with pytest.raises(AuthorityExists):
            add_authority(s, "ubnd-hcm", "ubnd-q1", now=NOW)
        with pytest.raises(AuthorityNotFound):
            remove_authority(s, "ubnd-q1", "ubnd-hcm")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    from xacthuc.cli import app

    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", "a test passphrase for the cli")
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    monkeypatch.delenv("XACTHUC_DEV_MODE", raising=False)
    init_city(load_settings(), datetime.now(UTC))
    return app


def test_agency_authority_cli(cli: typer.Typer) -> None:
    runner = CliRunner()
    for agency_id in ("ubnd-hcm", "ubnd-q1"):
        r = runner.invoke(cli, ["agency", "create", "--name", agency_id, "--roles", "documents", "--id", agency_id])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["agency", "authority", "add", "ubnd-hcm", "ubnd-q1", "--note", "phân cấp", "--json"])
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    assert (added["superior_id"], added["subordinate_id"], added["note"]) == ("ubnd-hcm", "ubnd-q1", "phân cấp")
    r = runner.invoke(cli, ["agency", "authority", "add", "ubnd-hcm", "ubnd-q1", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "AGENCY_AUTHORITY_EXISTS"
    r = runner.invoke(cli, ["agency", "authority", "add", "ubnd-hcm", "ubnd-hcm", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "AGENCY_AUTHORITY_INVALID"
    r = runner.invoke(cli, ["agency", "authority", "list", "--json"])
    assert r.exit_code == 0 and [(a["superior_id"], a["subordinate_id"]) for a in json.loads(r.stdout)] == [
        ("ubnd-hcm", "ubnd-q1")
    ]
    r = runner.invoke(cli, ["agency", "authority", "list"])
    assert r.exit_code == 0 and "ubnd-hcm\tubnd-q1\tphân cấp" in r.stdout  # not a terminal: tab-separated
    r = runner.invoke(cli, ["agency", "authority", "remove", "ubnd-hcm", "ubnd-q1"])
    assert r.exit_code == 0 and "no longer has authority" in r.stdout
    r = runner.invoke(cli, ["agency", "authority", "remove", "ubnd-hcm", "ubnd-q1", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "AGENCY_AUTHORITY_NOT_FOUND"
    r = runner.invoke(cli, ["agency", "authority", "list", "--json"])
    assert json.loads(r.stdout) == []
