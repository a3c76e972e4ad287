"""``POST /v1/verify``'s ``sha256``: the document file's hash when the file stays on the client (the browser hashes
it with WebCrypto). It reaches the verifier as ``file_sha256``, in JSON and multipart; a malformed hash, or a hash
beside the file itself, is refused. The check it feeds (``file_matches``) is exercised end to end in
tests/web/test_verify_file.py."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from verifier.api import build_router
from verifier.dispatch import VerifyRequest
from verifier.report import Report
from xacthuc.errors_http import install_error_handlers

FILE = b"%PDF-1.7 the signed decision"
DIGEST = hashlib.sha256(FILE).hexdigest()


@pytest.fixture
def seen() -> list[VerifyRequest]:
    return []


@pytest.fixture
def client(seen: list[VerifyRequest]) -> TestClient:
    def verify(request: VerifyRequest) -> Report:
        seen.append(request)
        return Report(kind="document", checks=[])

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_router(verify=verify, file_limit=1024))
    return TestClient(app)


def test_json_sha256_reaches_the_verifier(client: TestClient, seen: list[VerifyRequest]) -> None:
    r = client.post("/v1/verify", json={"payload": "XD1:x", "sha256": DIGEST})
    assert r.status_code == 200, r.text
    assert seen[0].file_sha256 == bytes.fromhex(DIGEST) and seen[0].file is None


def test_multipart_sha256_reaches_the_verifier(client: TestClient, seen: list[VerifyRequest]) -> None:
    r = client.post("/v1/verify", data={"sha256": DIGEST}, files={"image": ("qr.png", b"a picture")})
    assert r.status_code == 200, r.text
    assert seen[0].file_sha256 == bytes.fromhex(DIGEST) and seen[0].image == b"a picture"


@pytest.mark.parametrize("value", [DIGEST.upper(), DIGEST[:-1], DIGEST + "0", "g" * 64, "", 64], ids=str)
def test_malformed_sha256_is_refused(client: TestClient, seen: list[VerifyRequest], value: object) -> None:
    r = client.post("/v1/verify", json={"payload": "XD1:x", "sha256": value})
    assert r.status_code == 422 and "sha256" in r.json()["error"]["message"]
    assert seen == []


def test_sha256_beside_the_file_is_refused(client: TestClient, seen: list[VerifyRequest]) -> None:
    r = client.post("/v1/verify", data={"payload": "XD1:x", "sha256": DIGEST}, files={"file": ("qd.pdf", FILE)})
    assert r.status_code == 422 and "not both" in r.json()["error"]["message"]
    assert seen == []
