"""A document's metadata checked and shown, end to end (issue 8, item 3): the real app, a bootstrapped city, anvil
and the anchoring worker, on SQLite and on PostgreSQL.

Observed: a proof bundle whose ``metadata.title`` and ``signer_name`` were altered still verified ``valid`` with
``xacthuc verify BUNDLE --rpc-url URL --trust-root ROOT`` (exit 0), and neither ``POST /v1/verify`` nor the CLI showed
the title, the issuing body's wording, the signer or the signing form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from ledger.documents.issuing import DocumentRow
from tests.e2e.helpers import anchor_all
from xacthuc.app import create_app
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

pytestmark = pytest.mark.anvil

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the metadata end-to-end tests"
AGENCY = "ubnd-q3"
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Quận 3",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}
SHOWN = ("title", "issuing_body", "place", "signer_name", "signer_title", "signing_form", "number", "issued_on")


@dataclass
class Stack:
    client: TestClient
    services: Services
    anvil: AnvilNode
    key: str
    dir: Path

    def issue(self) -> dict[str, Any]:
        r = self.client.post(
            "/v1/documents",
            data=META,
            files={"file": ("qd.pdf", b"%PDF-1.7 Quyet dinh 2392", "application/pdf")},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def verify(self, payload: str) -> dict[str, Any]:
        r = self.client.post("/v1/verify", json={"payload": payload})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def write(self, name: str, content: str) -> str:
        path = self.dir / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    def cli_verify(self, bundle: dict[str, Any], *, as_json: bool = True) -> tuple[int, str]:
        """``xacthuc verify BUNDLE --rpc-url URL --trust-root ROOT``: a third party with a node and the pinned root."""
        from xacthuc.cli import app

        root = self.write("root.jwk", self.client.get("/v1/trust-root").text)
        path = self.write("bundle.json", json.dumps(bundle, ensure_ascii=False))
        args = ["verify", path, "--rpc-url", self.anvil.url, "--trust-root", root]
        r = CliRunner().invoke(app, [*args, "--json"] if as_json else args)
        return r.exit_code, r.output


@pytest.fixture
def stack(engine: Engine, tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[Stack]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF, demo=False)
        agency = city.provision_agency(
            session, name="UBND Quận 3", roles=["documents"], now=now - timedelta(minutes=1), agency_id=AGENCY
        )
        session.commit()
    assert agency.api_key is not None
    account = city.eth_account(AGENCY)
    fund(anvil.url, account.address, 10**20)
    settings = Settings(_env_file=None, data_dir=data_dir, public_url=PUBLIC, database_url=str(engine.url))  # type: ignore[call-arg]
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        registry_client=anvil_registry,
        signing_accounts={account.address: account},
    )
    out = tmp_path / "files"
    out.mkdir()
    with TestClient(create_app(services)) as client:
        yield Stack(client, services, anvil, agency.api_key.token, out)


def _check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(dict(c) for c in report["checks"] if c["name"] == name)


def test_verify_on_the_issuing_server_shows_the_signed_title_and_signer(stack: Stack) -> None:
    doc = stack.issue()
    anchor_all(stack.services)
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "valid", report
    check = _check(report, "metadata_matches")
    assert (check["status"], check["code"], check["data"]["sources"]) == ("valid", "METADATA_MATCHES", ["issuer"])
    assert {k: report["claims"][k] for k in SHOWN} == META
    assert (report["claims"]["type"], report["claims"]["type_name"]) == ("QĐ", "Quyết định")
    assert report["issuer"]["id"] == AGENCY


def test_altered_metadata_in_the_issuers_store_verifies_invalid_on_the_server(stack: Stack) -> None:
    doc = stack.issue()
    anchor_all(stack.services)
    forged = json.dumps({**META, "signer_name": "Trần Văn Giả"}, ensure_ascii=False, sort_keys=True)
    with Session(stack.services.engine) as session:
        session.exec(update(DocumentRow).where(DocumentRow.id == doc["id"]).values(metadata_json=forged))  # type: ignore[call-overload]
        session.commit()
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "invalid"
    assert _check(report, "metadata_matches")["code"] == "METADATA_DIGEST_MISMATCH"
    assert "signer_name" not in report["claims"] and "title" not in report["claims"]


def test_bundle_with_altered_title_and_signer_exits_1_from_the_cli(stack: Stack) -> None:
    doc = stack.issue()
    anchor_all(stack.services)
    bundle = stack.client.get(f"/v1/documents/{doc['id']}/bundle").json()

    code, output = stack.cli_verify(bundle)
    report = json.loads(output)
    assert code == 0 and report["verdict"] == "valid", report
    assert _check(report, "metadata_matches")["data"]["sources"] == ["bundle"]
    assert {k: report["claims"][k] for k in SHOWN} == META
    code, text = stack.cli_verify(bundle, as_json=False)
    assert code == 0 and f"title: {META['title']}" in text and f"signer_name: {META['signer_name']}" in text

    for change, expected in (
        (
            {"title": "Về việc giải thể Ủy ban nhân dân Quận 3", "signer_name": "Trần Văn Giả"},
            "METADATA_DIGEST_MISMATCH",
        ),
        ({"title": "Về việc giải thể Ủy ban nhân dân Quận 3"}, "METADATA_DIGEST_MISMATCH"),
        ({"signer_name": "Trần Văn Giả"}, "METADATA_DIGEST_MISMATCH"),
        ({"number": "2393/QĐ-UBND"}, "METADATA_NUMBER_MISMATCH"),
    ):
        tampered = {**bundle, "metadata": {**bundle["metadata"], **change}}
        code, output = stack.cli_verify(tampered)
        report = json.loads(output)
        assert code == 1 and report["verdict"] == "invalid", (change, report)
        check = _check(report, "metadata_matches")
        assert (check["status"], check["code"]) == ("invalid", expected), change
        for name in change:
            if name != "number":
                assert name not in report["claims"], (change, report["claims"])
        code, text = stack.cli_verify(tampered, as_json=False)
        assert code == 1 and "Trần Văn Giả" not in text and "giải thể" not in text
