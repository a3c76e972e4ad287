"""The OpenAPI schema tells the truth (issue 9): enumerated inputs are enums, errors are documented with the body the
app really sends, the main answers have their schemas, and real answers validate against them. ``/docs`` loads
nothing from another host.

The schema is read from the built app's ``/openapi.json``; real answers come from a bootstrapped city over HTTP
(documents anchored on a real anvil, citizen IDs presented from a wallet).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from identity.api.routes import CitizenOut, CredentialOut, RevokedOut
from identity.wallet import create_wallet
from keys.api.schema import ErrorResponse, Jwk, Jwks
from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.api.schema import BatchIssuedOut, BundleOut, DocumentOut, IssuedOut
from ledger.chain.client import RegistryClient
from tests.e2e.helpers import anchor_all
from verifier.api.schema import VerificationReport
from xacthuc.app import create_app
from xacthuc.devchain import AnvilNode, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the OpenAPI tests"
AUDIENCE = "https://bank.example/kyc"
VERDICTS = {"valid", "invalid", "revoked", "superseded", "expired", "untrusted", "pending", "error"}
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
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}
#: Routes behind an API key.
AUTHENTICATED = {
    ("post", "/v1/documents"),
    ("post", "/v1/documents:batch"),
    ("post", "/v1/documents/{document_id}/revoke"),
    ("post", "/v1/citizens"),
    ("post", "/v1/citizens/{citizen_id}/credentials"),
    ("post", "/v1/citizens/{citizen_id}/offers"),
    ("post", "/v1/credentials/{credential_id}/revoke"),
    ("get", "/v1/audit"),
    ("post", "/v1/agencies/{agency_id}/offices"),
    ("post", "/v1/agencies/{agency_id}/offices/{office_id}/end"),
    ("post", "/v1/agencies/{agency_id}/delegations"),
    ("post", "/v1/agencies/{agency_id}/delegations/{delegation_id}/revoke"),
}
#: The error statuses each route sends besides 401/403 (read from the routes and the domain code they call). A route
#: with parameters answers 422 to malformed ones (and any route to a JSON body nested too deeply).
SENT: dict[tuple[str, str], set[int]] = {
    ("get", "/v1/trust-list"): set(),
    ("get", "/v1/trust-root"): set(),
    ("post", "/v1/documents"): {409, 413, 422, 503},
    ("post", "/v1/documents:batch"): {409, 413, 422, 503},
    ("get", "/v1/documents/{document_id}"): {404, 422},
    ("get", "/v1/documents/{document_id}/qr.png"): {404, 422},
    ("get", "/v1/documents/{document_id}/qr.svg"): {404, 422},
    ("get", "/v1/documents/{document_id}/bundle"): {404, 422},
    ("get", "/v1/documents/{document_id}/stamped.pdf"): {404, 422, 503},
    ("post", "/v1/documents/{document_id}/revoke"): {404, 409, 413, 422},
    ("post", "/v1/verify"): {413, 415, 422},
    ("get", "/v1/messages"): set(),
    ("get", "/v1/offline-bundle"): {503},
    ("get", "/v1/audit"): {422},
    ("get", "/v1/agencies/{agency_id}/offices"): {404, 422},
    ("post", "/v1/agencies/{agency_id}/offices"): {404, 409, 413, 422},
    ("post", "/v1/agencies/{agency_id}/offices/{office_id}/end"): {404, 409, 413, 422},
    ("post", "/v1/agencies/{agency_id}/delegations"): {404, 409, 413, 422},
    ("post", "/v1/agencies/{agency_id}/delegations/{delegation_id}/revoke"): {404, 409, 413, 422},
    ("post", "/v1/citizens"): {409, 413, 422},
    ("post", "/v1/citizens/{citizen_id}/credentials"): {404, 413, 422, 503},
    ("post", "/v1/citizens/{citizen_id}/offers"): {404, 422},
    ("post", "/v1/credentials/{credential_id}/revoke"): {404, 422},
    ("get", "/v1/status-lists/{list_id}"): {404, 422},
    ("post", "/v1/presentation-requests"): {413, 422},
    ("get", "/v1/presentation-requests/{request_id}"): {404, 422},
    ("get", "/v1/presentation-requests/{request_id}/qr.svg"): {404, 422},
}
#: JSON answers that have a schema of their own (not ``{}``).
JSON_ANSWERS = {
    ("post", "/v1/documents"): ("201", "IssuedOut"),
    ("post", "/v1/documents:batch"): ("201", "BatchIssuedOut"),
    ("get", "/v1/documents/{document_id}"): ("200", "DocumentOut"),
    ("get", "/v1/documents/{document_id}/bundle"): ("200", "BundleOut"),
    ("post", "/v1/documents/{document_id}/revoke"): ("200", "DocumentOut"),
    ("post", "/v1/verify"): ("200", "VerificationReport"),
    ("post", "/v1/citizens"): ("201", "CitizenOut"),
    ("post", "/v1/citizens/{citizen_id}/credentials"): ("201", "CredentialOut"),
    ("post", "/v1/citizens/{citizen_id}/offers"): ("201", "OfferOut"),
    ("post", "/v1/credentials/{credential_id}/revoke"): ("200", "RevokedOut"),
}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the schema and the shape of the answers do not depend on the database."""
    return f"sqlite:///{tmp_path / 'openapi.db'}"


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", public_url=PUBLIC)
    with TestClient(create_app(Services(settings=settings, engine=engine)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200, r.text
    schema: dict[str, Any] = r.json()
    return schema


def _resolve(openapi: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = openapi["components"]["schemas"][node["$ref"].removeprefix("#/components/schemas/")]
    return node


def _ref_name(node: dict[str, Any]) -> str:
    return str(node["$ref"]).removeprefix("#/components/schemas/")


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def _property(openapi: dict[str, Any], model: str, name: str) -> dict[str, Any]:
    prop: dict[str, Any] = openapi["components"]["schemas"][model]["properties"][name]
    return prop


def _enum(openapi: dict[str, Any], prop: dict[str, Any]) -> list[str]:
    """The enum of a property, through ``$ref`` and an optional ``null``."""
    variants = prop.get("anyOf", [prop])
    [named] = [_resolve(openapi, v) for v in variants if v.get("type") != "null"]
    return list(named["enum"])


# ----------------------------------------------------------------------------------------------- enumerated inputs
def test_the_revoke_reason_is_an_enum_of_the_registry_reasons(openapi: dict[str, Any]) -> None:
    body = openapi["paths"]["/v1/documents/{document_id}/revoke"]["post"]["requestBody"]
    model = _ref_name(_json_schema(body))
    assert _enum(openapi, _property(openapi, model, "reason")) == ["annulled", "replaced", "error", "other"]


def test_the_signing_form_and_the_citizen_sex_are_enums(openapi: dict[str, Any]) -> None:
    form = openapi["paths"]["/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert sorted(_enum(openapi, _resolve(openapi, form)["properties"]["signing_form"])) == sorted(
        ["TM.", "KT.", "TL.", "TUQ.", "Q."]
    )
    citizen = _resolve(openapi, _json_schema(openapi["paths"]["/v1/citizens"]["post"]["requestBody"]))
    assert citizen["properties"]["sex"]["enum"] == ["male", "female"]
    assert _enum(openapi, _property(openapi, "CitizenOut", "sex")) == ["male", "female"]
    batch = _json_schema(openapi["paths"]["/v1/documents:batch"]["post"]["requestBody"])
    item = batch["properties"]["documents"]["items"]
    assert sorted(item["properties"]["signing_form"]["enum"]) == sorted(["TM.", "KT.", "TL.", "TUQ.", "Q."])


# ---------------------------------------------------------------------------------------------------------- errors
def test_every_route_behind_an_api_key_documents_401_and_403(openapi: dict[str, Any]) -> None:
    secured = {(m, p) for m, p, op in _operations(openapi) if op.get("security")}
    assert secured == AUTHENTICATED
    for method, path in secured:
        responses = openapi["paths"][path][method]["responses"]
        assert {"401", "403"} <= set(responses), (method, path)


def test_errors_are_documented_where_they_are_sent(openapi: dict[str, Any]) -> None:
    # A new API route joins the table: which errors it sends is a decision, not FastAPI's default.
    assert {(m, p) for m, p, _ in _operations(openapi) if p.startswith("/v1/")} == set(SENT)
    for (method, path), statuses in SENT.items():
        documented = {int(s) for s in openapi["paths"][path][method]["responses"] if int(s) >= 400}
        expected = statuses | ({401, 403} if (method, path) in AUTHENTICATED else set())
        assert documented == expected, (method, path)


def test_every_error_refers_to_the_one_error_schema(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas  # FastAPI's {"detail": [...]}
    envelope = schemas["ErrorResponse"]
    assert envelope["required"] == ["error"] and _ref_name(envelope["properties"]["error"]) == "Error"
    error = schemas["Error"]
    assert error["required"] == ["code", "message"]
    assert set(error["properties"]) == {"code", "message", "field", "lang"}
    count = 0
    for method, path, op in _operations(openapi):
        for status, response in op["responses"].items():
            if path.startswith("/oid4vp/") and status in ("400", "404"):  # wallets get OAuth-shaped refusals
                assert _ref_name(_json_schema(response)) == "OAuthErrorOut", (method, path, status)
            elif int(status) >= 400 and (method, path, status) != ("get", "/readyz", "503"):  # a probe's own answer
                assert _ref_name(_json_schema(response)) == "ErrorResponse", (method, path, status)
                count += 1
    assert count > 30


def test_errors_on_the_wire_have_the_documented_shape(client: TestClient) -> None:
    answers = [
        client.get("/v1/documents/01J00000000000000000000000"),  # 404
        client.post("/v1/citizens", json=CITIZEN),  # 401
        client.get("/v1/documents/X/qr.png?scale=0"),  # 422 from FastAPI's validation
        client.post("/v1/verify", content=b"[" * 100 + b"]" * 100),  # 422 JSON_TOO_DEEP, from a middleware
        client.post("/v1/verify", content=b"x", headers={"Content-Type": "text/plain"}),  # 415
    ]
    assert [r.status_code for r in answers] == [404, 401, 422, 422, 415]
    for r in answers:
        ErrorResponse.model_validate(r.json())


# ------------------------------------------------------------------------------------------------------- responses
def test_the_verify_answer_is_the_report_with_its_eight_verdicts(openapi: dict[str, Any]) -> None:
    ok = openapi["paths"]["/v1/verify"]["post"]["responses"]["200"]
    report = _resolve(openapi, _json_schema(ok))
    assert _ref_name(_json_schema(ok)) == "VerificationReport"
    assert set(report["required"]) == {"verdict", "kind", "checks", "issuer", "claims", "anchor"}
    assert set(_enum(openapi, report["properties"]["verdict"])) == VERDICTS
    assert set(_enum(openapi, report["properties"]["kind"])) == {"document", "citizen_id"}
    check = _resolve(openapi, report["properties"]["checks"]["items"])
    assert set(_enum(openapi, check["properties"]["status"])) == {"valid", "invalid", "skipped", "error"}
    assert check["required"] == ["name", "status", "code", "message"]


def test_the_main_answers_have_their_schemas(openapi: dict[str, Any]) -> None:
    for (method, path), (status, model) in JSON_ANSWERS.items():
        schema = _json_schema(openapi["paths"][path][method]["responses"][status])
        assert _ref_name(schema) == model, (method, path)


@pytest.mark.parametrize(
    "model",
    [VerificationReport, DocumentOut, IssuedOut, BatchIssuedOut, BundleOut, ErrorResponse, Jwk, Jwks],
    ids=lambda m: m.__name__,
)
def test_the_published_schemas_are_the_models_the_answers_are_checked_with(
    openapi: dict[str, Any], model: type[BaseModel]
) -> None:
    # So a body the model accepts is one the published schema accepts (no JSON Schema validator is installed).
    # Defaults aside: FastAPI leaves out a ``null`` one, and no default changes what validates.
    own = model.model_json_schema(ref_template="#/components/schemas/{model}")
    published = openapi["components"]["schemas"]
    for name, schema in {**own.pop("$defs", {}), model.__name__: own}.items():
        assert _without_defaults(published[name]) == _without_defaults(schema), name


def _without_defaults(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def test_the_report_schema_is_closed() -> None:
    report: dict[str, Any] = {
        "verdict": "valid",
        "kind": "document",
        "checks": [],
        "issuer": None,
        "claims": {},
        "anchor": None,
    }
    VerificationReport.model_validate(report)
    for bad in (
        {**report, "extra": 1},
        {**report, "verdict": "fine"},
        {k: v for k, v in report.items() if k != "anchor"},
    ):
        with pytest.raises(ValueError):
            VerificationReport.model_validate(bad)


# ------------------------------------------------------------------------------------------------------------ /docs
def test_the_api_docs_load_nothing_from_another_host(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.text
    assert "cdn.jsdelivr.net" not in html and "fastapi.tiangolo.com" not in html
    assert re.findall(r"(?:https?:)?//[^\s\"'<>]+", html) == []  # no absolute URL of any host
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 4
    for url in assets:
        assert url.startswith("/static/docs/") or url == "/static/swagger-init.js", url
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url
    # no inline script (the page passes the pages' CSP); its start-up file turns off the validator badge, which
    # would load from validator.swagger.io
    assert re.findall(r"<script>", html) == [] and "Content-Security-Policy" not in html
    assert "validatorUrl: null" in client.get("/static/swagger-init.js").text
    assert "script-src 'self' 'wasm-unsafe-eval'" in r.headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404  # ReDoc's bundle and fonts come from other hosts
    assert client.get("/static/docs/package.json").status_code == 404


# --------------------------------------------------------------------------------------------------- real answers
@dataclass
class City:
    """A bootstrapped city served over HTTP: its demo agencies' keys, and the services behind the app."""

    client: TestClient
    services: Services
    keys: dict[str, dict[str, str]]  # agency id -> Authorization header

    def ok(self, r: Any, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    def issue(self, meta: dict[str, str]) -> Any:
        files = {"file": ("qd.pdf", b"%PDF-1.7 " + meta["number"].encode(), "application/pdf")}
        r = self.client.post("/v1/documents", data=meta, files=files, headers=self.keys["ubnd-hcm"])
        return _valid(IssuedOut, self.ok(r, 201))

    def verify(self, payload: str, audience: str | None = None) -> Any:
        body = {"payload": payload} if audience is None else {"payload": payload, "audience": audience}
        return _valid(VerificationReport, self.ok(self.client.post("/v1/verify", json=body)))


def _valid(model: type[BaseModel], body: Any) -> Any:
    """``body`` validates against ``model`` (closed models: a key the schema does not name fails too)."""
    model.model_validate(body)
    return body


def _city(engine: Engine, data_dir: Path, **chain: Any) -> Iterator[City]:
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    signing: dict[str, Any] = {}
    if "anvil" in chain:
        account = city.eth_account("ubnd-hcm")
        fund(chain["anvil"].url, account.address, 10**20)
        signing = {"signing_accounts": {account.address: account}, "registry_client": chain["registry"]}
    settings = Settings(
        _env_file=None, data_dir=data_dir, public_url=PUBLIC, database_url=str(engine.url), revoke_wait=0
    )
    services = Services(settings=settings, engine=engine, city=city, **signing)
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    keys = {a["id"]: {"Authorization": f"Bearer {a['api_key']}"} for a in creds["agencies"]}
    with TestClient(create_app(services)) as client:
        yield City(client, services, keys)


@pytest.fixture
def city(engine: Engine, tmp_path: Path) -> Iterator[City]:
    yield from _city(engine, tmp_path / "var")


@pytest.fixture
def chain_city(engine: Engine, tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[City]:
    yield from _city(engine, tmp_path / "var", anvil=anvil, registry=anvil_registry)


@pytest.mark.anvil
def test_real_document_answers_validate_against_their_schemas(chain_city: City) -> None:
    c = chain_city
    issued = c.issue(META)
    anchor_all(c.services)
    pending = c.issue({**META, "number": "2393/QĐ-UBND", "signing_form": ""})
    batch = {"documents": [{"file_base64": "YQ==", **META, "number": "7/TB-UBND"}]}
    _valid(BatchIssuedOut, c.ok(c.client.post("/v1/documents:batch", json=batch, headers=c.keys["ubnd-hcm"]), 201))
    anchored = c.verify(issued["receipt"]["payload"])
    assert anchored["verdict"] == "valid" and anchored["anchor"] is not None, anchored
    assert c.verify(pending["receipt"]["payload"])["verdict"] == "pending"
    for document in (issued, pending):
        _valid(DocumentOut, c.ok(c.client.get(f"/v1/documents/{document['id']}")))
        _valid(BundleOut, c.ok(c.client.get(f"/v1/documents/{document['id']}/bundle")))
    revoke = {"reason": "annulled", "note": "ban hành nhầm"}
    r = c.client.post(f"/v1/documents/{issued['id']}/revoke", json=revoke, headers=c.keys["ubnd-hcm"])
    assert _valid(DocumentOut, c.ok(r, 202))["revocation"]["state"] == "built"
    anchor_all(c.services)
    assert _valid(DocumentOut, c.ok(c.client.get(f"/v1/documents/{issued['id']}")))["status"] == "revoked"
    assert c.verify(issued["receipt"]["payload"])["verdict"] == "revoked"


def test_real_citizen_id_and_key_answers_validate_against_their_schemas(city: City, tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path / "wallet.json", "ví của tôi", scrypt_n=2**10)
    auth = city.keys["ca-hcm"]
    citizen = _valid(CitizenOut, city.ok(city.client.post("/v1/citizens", json=CITIZEN, headers=auth), 201))
    body = {"holder_jwk": wallet.holder_jwk()}
    r = city.client.post(f"/v1/citizens/{citizen['id']}/credentials", json=body, headers=auth)
    credential = _valid(CredentialOut, city.ok(r, 201))
    wallet.import_credential(credential["credential"], datetime.now(UTC))
    presentation = wallet.present(["given_name", "age_over_18"], audience=AUDIENCE, now=datetime.now(UTC))
    report = city.verify(presentation, AUDIENCE)
    assert report["verdict"] == "valid" and report["kind"] == "citizen_id", report
    assert report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}
    elsewhere = city.verify(presentation, "https://another.example")
    assert elsewhere["verdict"] == "invalid" and elsewhere["issuer"] == report["issuer"]
    assert city.verify(presentation)["kind"] == "citizen_id"  # no audience: a skipped check with data
    _valid(Jwk, city.ok(city.client.get("/v1/trust-root")))
    _valid(Jwks, city.ok(city.client.get("/.well-known/jwks.json")))
    revoked = city.client.post(f"/v1/credentials/{credential['id']}/revoke", headers=auth)
    _valid(RevokedOut, city.ok(revoked))
    assert city.verify(presentation, AUDIENCE)["verdict"] == "revoked"
