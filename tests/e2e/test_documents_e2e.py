"""Documents end to end over HTTP (issue 4's acceptance): the real app and API keys, a bootstrapped city, a real
anvil with the registry, and the anchoring worker driven step by step. On SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from keys.bootstrap import City, bootstrap_city
from keys.generate import generate_signing_key
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from ledger.documents.issuing import DocumentRow
from ledger.documents.receipt import ReceiptFields, Registry, encode_payload, new_document_id, sign_receipt, verify_link
from ledger.documents.status import proof_for
from ledger.errors import NotAnchorer
from tests.e2e.helpers import anchor_all
from tests.verifier.test_qr import _jpeg, _noise, _perspective, _png, _rotate
from verifier.qr import decode_qr_image
from xacthuc.app import create_app
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the documents end-to-end tests"
FILE = "Quyết định số 2392/QĐ-UBND (bản PDF giả lập)".encode() * 50
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


@dataclass
class Stack:
    client: TestClient
    services: Services
    city: City
    registry: RegistryClient
    anvil: AnvilNode
    keys: dict[str, str]
    data_dir: Path

    def auth(self, agency: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[agency]}"}

    def issue(self, meta: dict[str, str] | None = None, file: bytes = FILE, agency: str = "ubnd-hcm") -> dict[str, Any]:
        r = self.client.post(
            "/v1/documents",
            data=meta or META,
            files={"file": ("decision.pdf", file, "application/pdf")},
            headers=self.auth(agency),
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def anchor(self) -> None:
        anchor_all(self.services)

    def verify(self, payload: str, file: bytes | None = None) -> dict[str, Any]:
        if file is None:
            r = self.client.post("/v1/verify", json={"payload": payload})
        else:
            r = self.client.post("/v1/verify", data={"payload": payload}, files={"file": ("f", file)})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def verify_image(self, image: bytes) -> dict[str, Any]:
        r = self.client.post("/v1/verify", files={"image": ("qr.jpg", image, "image/jpeg")})
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def stack(
    engine: Engine, tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient, deployer: LocalAccount
) -> Iterator[Stack]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF)
        q1 = city.provision_agency(
            session, name="UBND Quận 1", roles=["documents"], now=now - timedelta(minutes=1), agency_id="ubnd-q1"
        )
        session.commit()
    accounts = {}
    for agency in ("ubnd-hcm", "ubnd-q1"):
        account = city.eth_account(agency)
        fund(anvil.url, account.address, 10**20)
        accounts[account.address] = account
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        public_url=PUBLIC,
        database_url=str(engine.url),
        revoke_wait=0,  # no worker thread: the tests drive it step by step, so a revocation answers 202 at once
    )
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        registry_client=anvil_registry,
        signing_accounts=accounts,
    )
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    keys = {a["id"]: a["api_key"] for a in creds["agencies"]}
    assert q1.api_key is not None
    keys["ubnd-q1"] = q1.api_key.token
    with TestClient(create_app(services)) as client:
        yield Stack(client, services, city, anvil_registry, anvil, keys, data_dir)


def _checks(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in report["checks"]}


def test_issue_pending_anchor_qr_verify_valid(stack: Stack) -> None:
    doc = stack.issue()
    assert doc["status"] == "pending"
    assert doc["sha256"] == hashlib.sha256(FILE).hexdigest()
    assert doc["verify_url"].startswith(PUBLIC + "/v#XD1:")
    assert doc["qr_url"] == f"{PUBLIC}/v1/documents/{doc['id']}/qr.png"

    pending = stack.verify(doc["verify_url"])
    assert pending["verdict"] == "pending"
    assert _checks(pending)["anchored"] == "DOC_NOT_ANCHORED"

    stack.anchor()
    shown = stack.client.get(f"/v1/documents/{doc['id']}").json()
    assert shown["status"] == "anchored"
    assert set(shown["proof"]) == {"root", "path", "leaf", "chain_id", "contract", "tx_hash", "block", "anchored_at"}
    assert shown["title"] == META["title"] and shown["number"] == META["number"]

    png = stack.client.get(f"/v1/documents/{doc['id']}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert decode_qr_image(png.content) == [doc["verify_url"].encode()]
    report = stack.verify(decode_qr_image(png.content)[0].decode())
    assert report["verdict"] == "valid", report
    assert report["claims"]["number"] == "2392/QĐ-UBND"
    assert report["anchor"]["tx"] == shown["proof"]["tx_hash"]
    assert stack.verify_image(png.content)["verdict"] == "valid"
    assert stack.verify(doc["verify_url"], file=FILE)["verdict"] == "valid"
    svg = stack.client.get(f"/v1/documents/{doc['id']}/qr.svg")
    assert svg.text.startswith("<svg")

    altered = stack.verify(doc["verify_url"], file=FILE + b" ")
    assert altered["verdict"] == "invalid"
    assert _checks(altered)["file_matches"] == "FILE_MISMATCH"


PHOTOS: dict[str, Callable[[Image.Image], bytes]] = {
    "rotated": lambda i: _png(_rotate(i)),
    "perspective": lambda i: _png(_perspective(i)),
    "noise": lambda i: _png(_noise(i)),
    "jpeg-40": lambda i: _jpeg(i, 40),
}


def test_photos_of_the_qr_decode_and_verify(stack: Stack) -> None:
    doc = stack.issue()
    stack.anchor()
    png = stack.client.get(f"/v1/documents/{doc['id']}/qr.png", params={"scale": 6}).content
    qr = Image.open(io.BytesIO(png)).convert("L")
    paper = Image.new("L", (qr.width + 160, qr.height + 160), 235)
    paper.paste(qr, (80, 80))
    for name, photo in PHOTOS.items():
        report = stack.verify_image(photo(paper))
        assert report["verdict"] == "valid", (name, report)


def test_revoked_and_superseded(stack: Stack) -> None:
    old = stack.issue()
    annulled = stack.issue(dict(META, number="2393/QĐ-UBND"))
    new = stack.issue(dict(META, number="2400/QĐ-UBND", title="Thay thế Quyết định số 2392/QĐ-UBND"))
    early = stack.client.post(
        f"/v1/documents/{old['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "DOC_PENDING_ANCHOR"
    stack.anchor()

    r = stack.client.post(
        f"/v1/documents/{annulled['id']}/revoke",
        json={"reason": "annulled", "note": "sai thẩm quyền"},
        headers=stack.auth("ubnd-hcm"),
    )
    assert r.status_code == 202, r.text  # recorded; on chain once the worker has sent it
    assert r.json()["status"] == "anchored" and r.json()["revocation"]["state"] == "built"
    # Not yet on chain, but this server recorded it: never valid again, and the report says whose word it is.
    recorded = stack.verify(annulled["verify_url"])
    assert recorded["verdict"] == "revoked"
    check = next(c for c in recorded["checks"] if c["name"] == "not_revoked")
    assert check["code"] == "DOC_REVOKED" and check["data"]["revocation_source"] == "server_record"
    stack.anchor()
    assert stack.client.get(f"/v1/documents/{annulled['id']}").json()["status"] == "revoked"
    report = stack.verify(annulled["verify_url"])
    assert report["verdict"] == "revoked"
    assert _checks(report)["not_revoked"] == "DOC_REVOKED"

    r = stack.client.post(
        f"/v1/documents/{old['id']}/revoke", json={"replaced_by": new["id"]}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text
    stack.anchor()
    assert stack.client.get(f"/v1/documents/{old['id']}").json()["status"] == "superseded"
    report = stack.verify(old["verify_url"])
    assert report["verdict"] == "superseded"
    check = next(c for c in report["checks"] if c["name"] == "not_revoked")
    assert check["code"] == "DOC_SUPERSEDED"
    assert check["data"]["replacement"] == {"number": "2400/QĐ-UBND", "document_id": new["id"]}
    assert "2400/QĐ-UBND" in check["message"]
    assert stack.verify(new["verify_url"])["verdict"] == "valid"

    again = stack.client.post(
        f"/v1/documents/{old['id']}/revoke", json={"reason": "other"}, headers=stack.auth("ubnd-hcm")
    )
    assert again.status_code == 409


def test_receipt_signed_outside_the_trust_list_is_untrusted(stack: Stack) -> None:
    stack.issue()  # fixes the registry's chain id in the verifier
    rogue = generate_signing_key("ES256")
    now = datetime.now(UTC)
    registry = Registry.of(stack.registry.chain_id, stack.registry.address)
    receipt = sign_receipt(
        rogue,
        ReceiptFields(
            issuer_id="ubnd-hcm",
            document_id=new_document_id(now),
            file_sha256=hashlib.sha256(FILE).digest(),
            metadata_digest=bytes(32),
            issued_at=now,
            registry=registry,
            number="2392/QĐ-UBND",
            issued_on=now.date(),
        ),
    )
    report = stack.verify(verify_link(PUBLIC, encode_payload(receipt, registry=registry)))
    assert report["verdict"] == "untrusted"
    assert _checks(report)["issuer_trusted"] == "KEY_UNKNOWN"


def test_chain_stopped_is_error_never_valid(stack: Stack) -> None:
    doc = stack.issue()
    stack.anchor()
    assert stack.verify(doc["verify_url"])["verdict"] == "valid"
    stack.anvil.kill()
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "error"
    assert _checks(report)["anchored"] == "CHAIN_UNAVAILABLE"


def test_auth_roles_and_other_agencies(stack: Stack, agency_accounts: list[LocalAccount]) -> None:
    files = {"file": ("d.pdf", FILE, "application/pdf")}
    assert stack.client.post("/v1/documents", data=META, files=files).status_code == 401
    wrong = stack.client.post("/v1/documents", data=META, files=files, headers=stack.auth("ca-hcm"))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "FORBIDDEN"
    doc = stack.issue()
    stack.anchor()
    assert stack.client.post(f"/v1/documents/{doc['id']}/revoke", json={"reason": "error"}).status_code == 401
    other = stack.client.post(
        f"/v1/documents/{doc['id']}/revoke", json={"reason": "error"}, headers=stack.auth("ubnd-q1")
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "FORBIDDEN"
    # Forced past the API with the other agency's own account, the contract refuses too.
    with Session(stack.services.engine) as s:
        row = s.get(DocumentRow, doc["id"])
        assert row is not None
        proof = proof_for(s, row.commitment)
    assert proof is not None
    with pytest.raises(NotAnchorer):
        stack.registry.revoke(
            stack.city.eth_account("ubnd-q1"),
            proof.root,
            proof.leaf,
            proof.path,
            3,
            agency=stack.city.eth_address("ubnd-hcm"),
        )
    assert stack.verify(doc["verify_url"])["verdict"] == "valid"


def test_bundle_verifies_with_only_rpc_and_pinned_root(stack: Stack, tmp_path: Path) -> None:
    from xacthuc.cli import app

    doc = stack.issue()
    stack.anchor()
    bundle = stack.client.get(f"/v1/documents/{doc['id']}/bundle").json()
    assert bundle["proof"]["tx_hash"].startswith("0x")
    (tmp_path / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    (tmp_path / "root.jwk").write_text(stack.client.get("/v1/trust-root").text, encoding="utf-8")
    (tmp_path / "doc.pdf").write_bytes(FILE)
    runner = CliRunner()
    args = ["verify", str(tmp_path / "bundle.json"), "--rpc-url", stack.anvil.url, "--trust-root"]
    r = runner.invoke(app, [*args, str(tmp_path / "root.jwk"), "--json", "--file", str(tmp_path / "doc.pdf")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["verdict"] == "valid"
    (tmp_path / "other.pdf").write_bytes(b"not it")
    r = runner.invoke(app, [*args, str(tmp_path / "root.jwk"), "--json", "--file", str(tmp_path / "other.pdf")])
    assert r.exit_code == 1 and json.loads(r.output)["verdict"] == "invalid"
    stack.client.post(f"/v1/documents/{doc['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm"))
    stack.anchor()
    r = runner.invoke(app, [*args, str(tmp_path / "root.jwk"), "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["verdict"] == "revoked"
    # A root key that did not sign the trust list: refused, exit 2.
    (tmp_path / "evil.jwk").write_text(json.dumps(generate_signing_key("ES256").public_jwk()), encoding="utf-8")
    r = runner.invoke(app, [*args, str(tmp_path / "evil.jwk"), "--json"])
    assert r.exit_code == 2, r.output


def test_revoke_answers_revoked_once_the_running_worker_has_it_on_chain(stack: Stack) -> None:
    """With the anchoring worker running, the agency's revoke answers 200 with the document ``revoked`` and the
    server's own verification agrees at once, although it reads a chain index whose thread would not catch up for
    a minute (the revocation is recorded first, so it still reaches the chain if the wait ends)."""
    update = {"revoke_wait": 30.0, "batch_interval": 0.2, "index_max_age": 120.0}
    settings = stack.services.settings.model_copy(update=update)
    services = Services(
        settings=settings,
        engine=stack.services.engine,
        city=stack.city,
        registry_client=stack.registry,
        signing_accounts=stack.services.signing_accounts,
    )
    services.start_worker()
    services.start_indexer(poll=60.0)  # one sync now, the next a minute later
    try:
        with TestClient(create_app(services)) as client:
            r = client.post(
                "/v1/documents",
                data=META,
                files={"file": ("decision.pdf", FILE, "application/pdf")},
                headers=stack.auth("ubnd-hcm"),
            )
            doc = r.json()
            deadline = time.monotonic() + 60
            while client.get(f"/v1/documents/{doc['id']}").json()["status"] != "anchored":
                assert time.monotonic() < deadline, "not anchored in time"
                time.sleep(0.05)
            assert services.indexer is not None
            services.indexer.sync()  # the index knows the anchor: a verification now trusts it, not the chain
            assert client.post("/v1/verify", json={"payload": doc["verify_url"]}).json()["verdict"] == "valid"
            r = client.post(
                f"/v1/documents/{doc['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "revoked" and r.json()["revocation"]["state"] in ("confirmed", "final")
            report = client.post("/v1/verify", json={"payload": doc["verify_url"]}).json()
            assert report["verdict"] == "revoked", report
    finally:
        services.close()  # the threads; the shared engine only drops its pooled connections
