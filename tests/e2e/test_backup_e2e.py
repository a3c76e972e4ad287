"""Issue 14, backups: a city with anchored, revoked and pending documents and a citizen's digital ID is backed up with
``xacthuc backup create`` and restored with ``xacthuc backup restore`` into a fresh data dir and database; the
restored city answers every verification with the same report as the original, and shows the same documents. On
SQLite, on PostgreSQL, and from SQLite into PostgreSQL (the documented way to move). A real anvil holds the
registry both cities read."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from identity.wallet import create_wallet
from keys.bootstrap import City, bootstrap_city, load_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from tests.e2e.helpers import anchor_all
from xacthuc.app import create_app
from xacthuc.cli import app as cli
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the backup end-to-end tests"
AUDIENCE = "https://bank.example/kyc"
FILE = "Quyết định số 2392/QĐ-UBND (bản PDF giả lập để sao lưu)".encode() * 40
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch sao lưu dữ liệu năm 2026",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}


@dataclass
class Running:
    client: TestClient
    services: Services


@dataclass
class Before:
    """The original city and what it answered: the payloads to verify again, their reports, its documents."""

    data_dir: Path
    database_url: str
    payloads: dict[str, dict[str, Any]]
    reports: dict[str, dict[str, Any]]
    documents: dict[str, dict[str, Any]]
    trust_root: dict[str, Any]


def _serve(data_dir: Path, engine: Engine, city: City, registry: RegistryClient) -> Services:
    settings = Settings(
        _env_file=None, data_dir=data_dir, public_url=PUBLIC, database_url=str(engine.url), revoke_wait=0
    )
    accounts: dict[str, Any] = {str(city.eth_account("ubnd-hcm").address): city.eth_account("ubnd-hcm")}
    return Services(settings=settings, engine=engine, city=city, registry_client=registry, signing_accounts=accounts)


def _observe(client: TestClient, payloads: dict[str, dict[str, Any]], ids: list[str]) -> tuple[Any, Any, Any]:
    reports = {}
    for name, body in payloads.items():
        r = client.post("/v1/verify", json=body)
        assert r.status_code == 200, r.text
        reports[name] = r.json()
    documents = {i: client.get(f"/v1/documents/{i}").json() for i in ids}
    return reports, documents, client.get("/v1/trust-root").json()


def _build_city(engine: Engine, tmp_path: Path, anvil: AnvilNode, registry: RegistryClient) -> Before:
    """Issue, anchor, revoke and leave one pending; register a citizen and present her ID; record every answer."""
    data_dir = tmp_path / "var"
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now, kdf=TEST_KDF)
        session.commit()
    fund(anvil.url, city.eth_account("ubnd-hcm").address, 10**20)
    (data_dir / "registry.json").write_text(json.dumps({"chain_id": registry.chain_id, "address": registry.address}))
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    keys = {a["id"]: {"Authorization": f"Bearer {a['api_key']}"} for a in creds["agencies"]}
    services = _serve(data_dir, engine, city, registry)
    wallet = create_wallet(tmp_path / "wallet.json", "ví của tôi", scrypt_n=2**10)
    with TestClient(create_app(services)) as client:

        def issue(number: str) -> dict[str, Any]:
            files = {"file": ("decision.pdf", FILE + number.encode(), "application/pdf")}
            r = client.post("/v1/documents", data={**META, "number": number}, files=files, headers=keys["ubnd-hcm"])
            assert r.status_code == 201, r.text
            return dict(r.json())

        anchored, revoked = issue("2392/QĐ-UBND"), issue("2393/QĐ-UBND")
        anchor_all(services)
        r = client.post(f"/v1/documents/{revoked['id']}/revoke", json={"reason": "annulled"}, headers=keys["ubnd-hcm"])
        assert r.status_code == 202, r.text
        anchor_all(services)
        pending = issue("2394/QĐ-UBND")
        r = client.post("/v1/citizens", json=CITIZEN, headers=keys["ca-hcm"])
        assert r.status_code == 201, r.text
        body = {"holder_jwk": wallet.holder_jwk()}
        r = client.post(f"/v1/citizens/{r.json()['id']}/credentials", json=body, headers=keys["ca-hcm"])
        assert r.status_code == 201, r.text
        wallet.import_credential(r.json()["credential"], datetime.now(UTC))
        presentation = wallet.present(["age_over_18", "full_name"], audience=AUDIENCE, now=datetime.now(UTC))
        payloads = {
            "anchored": {"payload": anchored["verify_url"]},
            "anchored with its file": {"payload": anchored["verify_url"], "sha256": anchored["sha256"]},
            "revoked": {"payload": revoked["verify_url"]},
            "pending": {"payload": pending["verify_url"]},
            "citizen id": {"payload": presentation, "audience": AUDIENCE},
        }
        ids = [anchored["id"], revoked["id"], pending["id"]]
        reports, documents, root = _observe(client, payloads, ids)
    assert [reports[n]["verdict"] for n in payloads] == ["valid", "valid", "revoked", "pending", "valid"]
    return Before(data_dir, str(engine.url), payloads, reports, documents, root)


def _cli(*args: str, **env: str) -> dict[str, Any]:
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("XACTHUC_")}
    handlers = list(logging.getLogger().handlers)
    try:
        result = CliRunner().invoke(
            cli, [*args, "--json"], env={**clean, "XACTHUC_KEYSTORE_PASSPHRASE": PASSPHRASE, **env}
        )
    finally:
        logging.getLogger().handlers[:] = handlers
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _backup_and_restore(before: Before, tmp_path: Path, target_url: str | None) -> tuple[Path, dict[str, Any]]:
    backup = tmp_path / "city.xbk"
    made = _cli(
        "backup", "create", str(backup), "--data-dir", str(before.data_dir), XACTHUC_DATABASE_URL=before.database_url
    )
    assert made["rows"] > 0 and "keys/keystore.json" in made["files"]
    new = tmp_path / "restored"
    args = ["backup", "restore", str(backup), "--data-dir", str(new)]
    restored = _cli(*args, *(["--database-url", target_url] if target_url else []))
    assert restored["rows"] == made["rows"] and restored["files"] == made["files"]
    return new, restored


def _after(before: Before, new: Path, url: str, registry: RegistryClient) -> Iterator[tuple[Any, Any, Any]]:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            city = load_city(new, session, PASSPHRASE, datetime.now(UTC))
            session.commit()
        with TestClient(create_app(_serve(new, engine, city, registry))) as client:
            yield _observe(client, before.payloads, list(before.documents))
    finally:
        engine.dispose()


def _same(before: Before, after: tuple[Any, Any, Any]) -> None:
    reports, documents, root = after
    for name in before.payloads:
        assert reports[name] == before.reports[name], name
    assert documents == before.documents
    assert root == before.trust_root


@pytest.fixture
def chain(anvil: AnvilNode, anvil_registry: RegistryClient, deployer: LocalAccount) -> tuple[AnvilNode, RegistryClient]:
    return anvil, anvil_registry


def test_backup_restore_verifies_every_document_and_id_the_same(
    engine: Engine, db_url: str, tmp_path: Path, chain: tuple[AnvilNode, RegistryClient], request: pytest.FixtureRequest
) -> None:
    anvil, registry = chain
    before = _build_city(engine, tmp_path, anvil, registry)
    target = None if db_url.startswith("sqlite") else request.getfixturevalue("postgres_server").create_database()
    new, _ = _backup_and_restore(before, tmp_path, target)
    url = target or f"sqlite:///{new / 'xacthuc.db'}"
    assert json.loads((new / "registry.json").read_text())["address"] == registry.address
    for after in _after(before, new, url, registry):
        _same(before, after)


@pytest.mark.postgres
def test_restore_a_sqlite_backup_into_postgresql(
    tmp_path: Path, chain: tuple[AnvilNode, RegistryClient], postgres_server: Any
) -> None:
    anvil, registry = chain
    engine = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    migrate(engine)
    try:
        before = _build_city(engine, tmp_path, anvil, registry)
    finally:
        engine.dispose()
    target = postgres_server.create_database()
    new, restored = _backup_and_restore(before, tmp_path, target)
    assert restored["database"] == "sqlite" and restored["database_url"].startswith("postgresql")
    for after in _after(before, new, target, registry):
        _same(before, after)
