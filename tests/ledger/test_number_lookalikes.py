"""Look-alike characters in document numbers (issue 8, item 12): `2392/QĐ-UВND` with a Cyrillic В, Greek `UΒΝD`,
`2392/QД-UBND` (stored as an untyped công văn), an Arabic-Indic digit in the symbol were all issued with 201.

Numbers and symbols take ASCII letters and digits, Đ/đ, ``/`` and ``-`` only, after NFKC (so fullwidth `ＵＢＮＤ` and
the `ﬃ` ligature are stored as the ASCII they stand for, never as themselves). Every vector runs through the parser
and through ``POST /v1/documents`` (the real app over the eth-tester registry, on SQLite and PostgreSQL)."""

from __future__ import annotations

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

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from ledger.documents.errors import DocumentNumberInvalid
from ledger.documents.metadata import parse_document, parse_number
from xacthuc.app import create_app
from xacthuc.services import Services
from xacthuc.settings import Settings

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "documents" / "lookalike-numbers.json").read_text("utf-8")
)
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}


def _id(case: dict[str, Any]) -> str:
    return str(case["id"])


# ------------------------------------------------------------------------------------------------------ parser
@pytest.mark.parametrize("case", VECTORS["refused"], ids=_id)
def test_lookalike_number_is_refused_by_the_parser(case: dict[str, Any]) -> None:
    with pytest.raises(DocumentNumberInvalid) as info:
        parse_number(case["input"])
    assert info.value.code == case["code"] and info.value.field == "number" and info.value.http_status == 422
    assert case["codepoint"] in info.value.message  # names the character, so the clerk can find it
    with pytest.raises(DocumentNumberInvalid):
        parse_document({**META, "number": case["input"]})


@pytest.mark.parametrize("case", VECTORS["folded"], ids=_id)
def test_compatibility_forms_in_a_number_fold_to_ascii(case: dict[str, Any]) -> None:
    number = parse_number(case["input"])
    assert str(number) == case["canonical"]
    assert parse_number(case["canonical"]) == number  # the same number as the one typed in ASCII
    assert str(parse_document({**META, "number": case["input"]}).number) == case["canonical"]


# ------------------------------------------------------------------------------------------------- POST /v1/documents
@dataclass
class Api:
    client: TestClient
    key: str

    def issue(self, number: str) -> Any:
        return self.client.post(
            "/v1/documents",
            data={**META, "number": number},
            files={"file": ("d.pdf", b"%PDF-1.7 " + number.encode(), "application/pdf")},
            headers={"Authorization": f"Bearer {self.key}"},
        )


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(tmp_path / "var", session, "lookalike passphrase", now, kdf=TEST_KDF, demo=False)
        agency = city.provision_agency(
            session, name="UBND Quận 3", roles=["documents"], now=now - timedelta(minutes=1), agency_id="ubnd-q3"
        )
        session.commit()
    assert agency.api_key is not None
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", database_url=str(engine.url))  # type: ignore[call-arg]
    services = Services(settings=settings, engine=engine, city=city, registry_client=registry)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield Api(client, agency.api_key.token)


def test_lookalike_numbers_are_refused_by_post_documents(api: Api) -> None:
    for case in VECTORS["refused"]:
        r = api.issue(case["input"])
        assert r.status_code == 422, (case["id"], r.text)
        error = r.json()["error"]
        assert error["code"] == case["code"] and error["field"] == "number", (case["id"], error)
        assert case["codepoint"] in error["message"], (case["id"], error)


def test_compatibility_forms_are_issued_under_the_ascii_number(api: Api) -> None:
    issued: dict[str, str] = {}
    for case in VECTORS["folded"]:
        r = api.issue(case["input"])
        if case["canonical"] in issued:  # the same number as one issued above (another file): taken, named
            assert r.status_code == 409, (case["id"], r.text)
            assert r.json()["error"]["code"] == "DOC_NUMBER_TAKEN"
            assert issued[case["canonical"]] in r.json()["error"]["message"], case["id"]
            continue
        assert r.status_code == 201, (case["id"], r.text)
        body = r.json()
        assert body["metadata"]["number"] == case["canonical"], case["id"]
        assert body["receipt"]["number"] == case["canonical"], case["id"]  # what the receipt signs
        issued[case["canonical"]] = body["id"]
