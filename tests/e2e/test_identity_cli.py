"""``xacthuc id ...`` and ``xacthuc wallet ...`` on a local data dir: register, issue to a wallet, present as a QR
code, verify the QR image with the server's verifier; revoke; typed errors with exit code 2."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from identity.models import Credential
from keys.bootstrap import bootstrap_city
from verifier.dispatch import VerifyRequest
from verifier.payload import parse_payload
from verifier.qr import decode_qr_image
from xacthuc.cli.identity import id_app, wallet_app
from xacthuc.database import make_engine, migrate
from xacthuc.server_verifier import ServerVerifier
from xacthuc.services import Services, init_city
from xacthuc.settings import load_settings

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
AUDIENCE = "https://bank.example/kyc"
PASSPHRASE = "a keystore passphrase for the identity cli tests"
REGISTER = [
    "id", "register", "--cccd", "079303001234", "--full-name", "Nguyễn Thị Minh Khai", "--birth-date", "2003-05-17",
    "--sex", "female", "--place-of-origin", "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "--place-of-residence", "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh", "--json",
]  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("XACTHUC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("XACTHUC_KEYSTORE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("XACTHUC_WALLET_PASSPHRASE", "ví của tôi")
    monkeypatch.setenv("XACTHUC_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("XACTHUC_DATABASE_URL", raising=False)
    monkeypatch.setattr("keys.keystore.KdfParams.__init__.__defaults__", (2**10, 8, 1, 2**10))
    init_city(load_settings(dev_mode=True), datetime.now(UTC))  # `XACTHUC_DEV_MODE=true xacthuc init`: demo agencies
    app = typer.Typer()
    app.add_typer(id_app, name="id")
    app.add_typer(wallet_app, name="wallet")
    return app


def _run(cli: typer.Typer, *args: str, code: int = 0) -> Any:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == code, r.output
    return json.loads(r.stdout.strip().splitlines()[-1]) if "--json" in args else r.stdout


@pytest.fixture
def server_verifier(cli: typer.Typer) -> Iterator[ServerVerifier]:
    """What ``POST /v1/verify`` runs, over the CLI's data dir (no chain: citizen IDs need none)."""
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    with Session(engine) as session:
        city = bootstrap_city(settings.data_dir, session, PASSPHRASE, datetime.now(UTC))
        session.commit()
    yield ServerVerifier(Services(settings=settings, engine=engine, city=city))
    engine.dispose()


def test_register_issue_present_verify_revoke(cli: typer.Typer, tmp_path: Path) -> None:
    jwk_file = tmp_path / "holder.jwk"
    created = _run(cli, "wallet", "init", "--jwk-out", str(jwk_file), "--json")
    assert created["holder_jwk"]["kty"] == "EC" and json.loads(jwk_file.read_text()) == created["holder_jwk"]
    citizen = _run(cli, *REGISTER)
    assert "cccd" not in citizen
    issued = _run(cli, "id", "issue", citizen["id"], "--holder-jwk", str(jwk_file), "--json")
    assert issued["issuer"] == "ca-hcm" and issued["credential"].endswith("~")
    (tmp_path / "cred.json").write_text(json.dumps(issued))
    _run(cli, "wallet", "import", str(tmp_path / "cred.json"), "--json")
    [shown] = _run(cli, "wallet", "show", "--json")["credentials"]
    assert shown["iss"] == PUBLIC + "/agencies/ca-hcm" and shown["claims"]["age_over_18"] is True
    assert "Nguyễn Thị Minh Khai" in _run(cli, "wallet", "show")

    png = tmp_path / "qr.png"
    presented = _run(
        cli, "wallet", "present", "--claims", "given_name,age_over_18", "--audience", AUDIENCE, "--qr", str(png),
        "--json",
    )  # fmt: skip
    assert presented["link"].startswith(PUBLIC + "/v#XI2") and presented["qr_version"] <= 25
    [scanned] = decode_qr_image(png.read_bytes())
    assert parse_payload(scanned).payload == presented["payload"]
    link = _run(cli, "wallet", "present", "--claims", "age_over_18", "--audience", AUDIENCE).strip()
    assert link.startswith(PUBLIC + "/v#XI2")

    r = _run(cli, "id", "revoke", issued["id"], "--agency", "ubnd-hcm", "--json", code=2)
    assert r["error"]["code"] == "FORBIDDEN"
    revoked = _run(cli, "id", "revoke", issued["id"], "--json")
    assert revoked["id"] == issued["id"] and revoked["issuer"] == "ca-hcm"


def test_the_qr_image_verifies_until_revoked(cli: typer.Typer, server_verifier: ServerVerifier, tmp_path: Path) -> None:
    holder = _run(cli, "wallet", "init", "--json")["holder_jwk"]
    (tmp_path / "holder.jwk").write_text(json.dumps(holder))
    citizen = _run(cli, *REGISTER)
    out = tmp_path / "credential.txt"
    issued = _run(cli, "id", "issue", citizen["id"], "--holder-jwk", str(tmp_path / "holder.jwk"), "--out", str(out))
    printed = re.fullmatch(r"credential (\S+) issued by ca-hcm, written to (\S+)\n", issued)  # its id (issue 10)
    assert printed is not None and printed.group(2) == str(out) and out.read_text().strip().endswith("~"), issued
    _run(cli, "wallet", "import", str(out))
    png = tmp_path / "qr.png"
    present = ("wallet", "present", "--claims", "given_name,age_over_18", "--audience", AUDIENCE, "--qr", str(png))
    _run(cli, *present)
    report = server_verifier(VerifyRequest(image=png.read_bytes(), audience=AUDIENCE)).to_dict()
    assert report["verdict"] == "valid", report["checks"]
    assert report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}
    with Session(server_verifier.services.engine) as session:
        assert session.exec(select(Credential.id)).one() == printed.group(1)
    _run(cli, "id", "revoke", printed.group(1))
    _run(cli, *present)
    report = server_verifier(VerifyRequest(image=png.read_bytes(), audience=AUDIENCE)).to_dict()
    assert report["verdict"] == "revoked"


def test_errors_are_typed_with_exit_code_2(cli: typer.Typer, tmp_path: Path) -> None:
    bad = [a if a != "079303001234" else "999303001234" for a in REGISTER]
    assert _run(cli, *bad, code=2)["error"]["code"] == "CCCD_INVALID"
    assert _run(cli, "id", "issue", "no-such-citizen", "--json", code=2)["error"]["code"] == "CITIZEN_NOT_FOUND"
    assert _run(cli, "wallet", "show", "--json", code=2)["error"]["code"] == "WALLET_ERROR"
    _run(cli, "wallet", "init", "--json")
    assert _run(cli, "wallet", "init", "--json", code=2)["error"]["code"] == "WALLET_ERROR"
    r = _run(cli, "wallet", "present", "--claims", "age_over_18", "--audience", AUDIENCE, "--json", code=2)
    assert r["error"]["code"] == "WALLET_ERROR"
