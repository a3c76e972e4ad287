"""Offline verification end to end: the real app serves ``GET /v1/offline-bundle``; then, with the chain stopped and
no server, ``xacthuc verify INPUT --offline BUNDLE --trust-root ROOT.jwk`` decides documents and digital IDs from
the bundle alone. Anchoring is real (anvil and the worker), on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from identity.wallet import Wallet, create_wallet
from keys.bootstrap import City, bootstrap_city
from keys.generate import generate_signing_key
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from tests.e2e.helpers import anchor_all
from verifier.api.routes import build_offline_router
from verifier.offline import sign_offline_bundle
from xacthuc.app import create_app
from xacthuc.devchain import AnvilNode, fund
from xacthuc.offline_bundle import OfflineBundleSource, city_bundle_builder
from xacthuc.services import Services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the offline end-to-end tests"
AUDIENCE = "https://bank.example/kyc"
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
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
class Stack:
    client: TestClient
    services: Services
    city: City
    anvil: AnvilNode
    keys: dict[str, str]
    wallet: Wallet
    dir: Path

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def issue(self, number: str, file: bytes) -> dict[str, Any]:
        r = self.client.post(
            "/v1/documents",
            data={**META, "number": number},
            files={"file": ("d.pdf", file, "application/pdf")},
            headers=self.auth("ubnd-hcm"),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def anchor(self) -> None:
        anchor_all(self.services)

    def presentation(self) -> str:
        r = self.client.post("/v1/citizens", json=CITIZEN, headers=self.auth("ca-hcm"))
        assert r.status_code == 201, r.text
        body = {"holder_jwk": self.wallet.holder_jwk()}
        r = self.client.post(f"/v1/citizens/{r.json()['id']}/credentials", json=body, headers=self.auth("ca-hcm"))
        assert r.status_code == 201, r.text
        now = datetime.now(UTC)
        self.wallet.import_credential(r.json()["credential"], now)
        return self.wallet.present(["given_name", "age_over_18"], audience=AUDIENCE, now=now)

    def write(self, name: str, content: str | bytes) -> str:
        path = self.dir / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    def cli(self, *args: str) -> tuple[int, dict[str, Any]]:
        from xacthuc.cli import app

        r = CliRunner().invoke(app, ["verify", *args, "--json"])
        return r.exit_code, json.loads(r.output)


@pytest.fixture
def stack(engine: Engine, tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[Stack]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    account = city.eth_account("ubnd-hcm")
    fund(anvil.url, account.address, 10**20)
    settings = Settings(  # the worker is driven step by step: a revocation answers 202 at once
        _env_file=None, data_dir=data_dir, public_url=PUBLIC, database_url=str(engine.url), revoke_wait=0
    )
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        registry_client=anvil_registry,
        signing_accounts={account.address: account},
    )
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    app = create_app(services)
    if not any(getattr(r, "path", None) == "/v1/offline-bundle" for r in app.routes):  # until the lead wires it
        builder = city_bundle_builder(
            engine=engine,
            city=services.require_city,
            registry=services.registry,
            status_base_url=PUBLIC + "/v1/status-lists",
        )
        app.include_router(build_offline_router(bundle=OfflineBundleSource(builder, services.clock)))
    wallet = create_wallet(tmp_path / "wallet.json", "ví của tôi", scrypt_n=2**10)
    out = tmp_path / "files"
    out.mkdir()
    with TestClient(app) as client:
        yield Stack(client, services, city, anvil, {a["id"]: a["api_key"] for a in creds["agencies"]}, wallet, out)


def _code(report: dict[str, Any], check: str) -> str:
    return next(str(c["code"]) for c in report["checks"] if c["name"] == check)


def test_offline_bundle_over_http_then_verify_with_no_chain_and_no_server(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = stack.issue("2392/QĐ-UBND", b"decision")
    annulled = stack.issue("2393/QĐ-UBND", b"annulled")
    stack.anchor()
    r = stack.client.post(
        f"/v1/documents/{annulled['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text
    stack.anchor()  # the worker sends the revocation; the bundle holds it once it is confirmed on chain
    presentation = stack.presentation()
    proof_bundle = stack.client.get(f"/v1/documents/{doc['id']}/bundle").json()
    qr = stack.client.get(f"/v1/documents/{doc['id']}/qr.png").content

    r = stack.client.get("/v1/offline-bundle")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/jwt"
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert 0 < int(r.headers["cache-control"].split("=")[1]) <= 600
    bundle = stack.write("offline.jwt", r.text)
    root = stack.write("root.jwk", stack.client.get("/v1/trust-root").text)
    pending = stack.issue("2401/QĐ-UBND", b"issued after the bundle was made")
    stack.anvil.kill()  # no chain from here on; the CLI never talks to the server either

    code, report = stack.cli(doc["verify_url"], "--offline", bundle, "--trust-root", root)
    assert code == 0 and report["verdict"] == "valid", report
    offline_info = next(c for c in report["checks"] if c["name"] == "not_revoked")["data"]["offline_bundle"]
    assert offline_info["block"] >= report["anchor"]["block"]
    assert stack.cli(stack.write("qr.png", qr), "--offline", bundle, "--trust-root", root)[0] == 0
    code, report = stack.cli(
        stack.write("proof.json", json.dumps(proof_bundle)), "--offline", bundle, "--trust-root", root
    )
    assert code == 0 and report["verdict"] == "valid", report
    code, report = stack.cli(annulled["verify_url"], "--offline", bundle, "--trust-root", root)
    assert code == 1 and report["verdict"] == "revoked" and _code(report, "not_revoked") == "DOC_REVOKED"
    code, report = stack.cli(pending["verify_url"], "--offline", bundle, "--trust-root", root)
    assert code == 1 and report["verdict"] == "pending" and _code(report, "anchored") == "DOC_NOT_ANCHORED"
    code, report = stack.cli(presentation, "--offline", bundle, "--trust-root", root)
    assert code == 0 and report["verdict"] == "valid", report
    assert report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}

    # --data-dir instead of --trust-root: the root public key is read from the data dir, with no passphrase (the
    # keystore stays locked).
    monkeypatch.delenv("XACTHUC_KEYSTORE_PASSPHRASE", raising=False)
    monkeypatch.delenv("XACTHUC_KEYSTORE_PASSPHRASE_FILE", raising=False)

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("verify unlocked the keystore")

    monkeypatch.setattr("keys.keystore.Keystore.open", locked)
    code, report = stack.cli(
        doc["verify_url"], "--offline", bundle, "--data-dir", str(stack.services.settings.data_dir)
    )
    assert code == 0 and report["verdict"] == "valid", report


def test_expired_tampered_and_foreign_bundles_exit_2(stack: Stack) -> None:
    doc = stack.issue("2392/QĐ-UBND", b"decision")
    stack.anchor()
    root = stack.write("root.jwk", stack.client.get("/v1/trust-root").text)
    token = stack.client.get("/v1/offline-bundle").text

    def refused(name: str, content: str) -> str:
        code, body = stack.cli(doc["verify_url"], "--offline", stack.write(name, content), "--trust-root", root)
        assert code == 2, body
        return str(body["error"]["code"])

    builder = city_bundle_builder(
        engine=stack.services.engine,
        city=stack.services.require_city,
        registry=stack.services.registry,
        status_base_url=PUBLIC + "/v1/status-lists",
        ttl=timedelta(hours=1),
    )
    assert refused("expired.jwt", builder(datetime.now(UTC) - timedelta(hours=2))) == "OFFLINE_BUNDLE_EXPIRED"

    header, payload, signature = token.split(".")
    i = len(payload) // 2
    tampered = ".".join([header, payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :], signature])
    assert refused("tampered.jwt", tampered) == "OFFLINE_BUNDLE_SIGNATURE_INVALID"

    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    foreign = sign_offline_bundle(generate_signing_key("ES256"), claims)
    assert refused("foreign.jwt", foreign) == "OFFLINE_BUNDLE_UNTRUSTED"
