"""The real app over the eth-tester registry with two issuing agencies, for the number, symbol and idempotency tests
(tests/ledger/test_document_numbers.py, test_document_symbols.py, test_idempotency.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from xacthuc.app import create_app
from xacthuc.services import Services
from xacthuc.settings import Settings

META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Quận 3",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]  # agency id -> API key
    services: Services

    def headers(self, agency: str = "ubnd-q3", key: str | None = None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.keys[agency]}"}
        if key is not None:
            out["Idempotency-Key"] = key
        return out

    def issue(
        self, file: bytes = b"%PDF-1.7 decision", *, agency: str = "ubnd-q3", key: str | None = None, **fields: str
    ) -> httpx.Response:
        response: httpx.Response = self.client.post(
            "/v1/documents",
            data={**META, **fields},
            files={"file": ("d.pdf", file, "application/pdf")},
            headers=self.headers(agency, key),
        )
        return response

    def batch(
        self, items: list[tuple[dict[str, str], bytes]], *, agency: str = "ubnd-q3", key: str | None = None
    ) -> httpx.Response:
        docs: list[dict[str, Any]] = [
            {**META, **fields, "file_base64": base64.b64encode(data).decode()} for fields, data in items
        ]
        response: httpx.Response = self.client.post(
            "/v1/documents:batch", json={"documents": docs}, headers=self.headers(agency, key)
        )
        return response


def issuing_api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    now = datetime.now(UTC).replace(microsecond=0)
    keys: dict[str, str] = {}
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(tmp_path / "var", session, "numbers passphrase", now, kdf=TEST_KDF, demo=False)
        for agency_id, name in (("ubnd-q3", "UBND Quận 3"), ("ubnd-q5", "UBND Quận 5")):
            agency = city.provision_agency(
                session, name=name, roles=["documents"], now=now - timedelta(minutes=1), agency_id=agency_id
            )
            assert agency.api_key is not None
            keys[agency_id] = agency.api_key.token
        session.commit()
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", database_url=str(engine.url))
    services = Services(settings=settings, engine=engine, city=city, registry_client=registry)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield Api(client, keys, services)
