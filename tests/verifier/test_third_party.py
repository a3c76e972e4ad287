"""Issue 9: a verifier anyone can embed. A bank has an RPC URL and the city root key it pinned, nothing else: no data
dir, no keystore, no node of its own. ``xacthuc verify INPUT --rpc-url URL --trust-root ROOT.jwk`` and
``verifier.third_party_verifier`` decide valid, revoked, untrusted and forged documents against a real city service
(uvicorn on a real socket) and a real anvil, and the command leaves no trace where it runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from identity.wallet import create_wallet
from keys.generate import generate_signing_key
from ledger.chain.client import RegistryClient
from ledger.documents.receipt import ReceiptFields, Registry, decode_payload, encode_payload, sign_receipt
from tests.verifier.served import Served, serve_city
from verifier import VerifyRequest, third_party_verifier
from xacthuc.devchain import AnvilNode

pytestmark = pytest.mark.anvil


@pytest.fixture
def served(tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[Served]:
    with serve_city(tmp_path / "city", anvil, anvil_registry) as city:
        yield city


@pytest.fixture
def bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and home for the bank's command: nothing of the city's is reachable from it, and
    unlocking a keystore or starting a node fails the test."""
    home = tmp_path / "bank"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith("XACTHUC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the third-party verifier unlocked a keystore or started a node")

    monkeypatch.setattr("keys.keystore.Keystore.open", refused)
    monkeypatch.setattr("xacthuc.devchain.AnvilNode.start", refused)
    return home


def _verify(bank: Path, served: Served, root: dict[str, Any], *args: str) -> tuple[int, dict[str, Any]]:
    """``xacthuc verify ... --json`` run by the bank (in process), with the pinned root in a file outside its home."""
    from xacthuc.cli import app

    root_file = bank.parent / "root.jwk"
    root_file.write_text(json.dumps(root), encoding="utf-8")
    before = sorted(p.name for p in bank.iterdir())
    r = CliRunner().invoke(
        app, ["verify", *args, "--rpc-url", served.anvil.url, "--trust-root", str(root_file), "--json"]
    )
    assert sorted(p.name for p in bank.iterdir()) == before, "the verifier wrote where it ran"
    return r.exit_code, json.loads(r.output)


def _code(report: dict[str, Any], check: str) -> str:
    return next(str(c["code"]) for c in report["checks"] if c["name"] == check)


def test_a_bank_verifies_links_images_and_payloads_with_only_an_rpc_url_and_the_pinned_root(
    served: Served, bank: Path
) -> None:
    doc = served.issue("2392/QĐ-UBND", b"a decision")
    served.anchor()
    root = served.get("/v1/trust-root").json()

    code, report = _verify(bank, served, root, doc["verify_url"])
    assert code == 0 and report["verdict"] == "valid", report
    assert report["claims"]["title"] == "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024"  # the service's copy
    assert _code(report, "metadata_matches") == "METADATA_MATCHES"

    qr = bank.parent / "qr.png"
    qr.write_bytes(served.get(f"/v1/documents/{doc['id']}/qr.png").content)
    code, report = _verify(bank, served, root, str(qr))
    assert code == 0 and report["verdict"] == "valid", report

    bare = doc["verify_url"].split("#", 1)[1]  # a bare payload names no service: the bank gives the trust list's URL
    code, report = _verify(bank, served, root, bare, "--trust-list-url", f"{served.base}/v1/trust-list")
    assert code == 0 and report["verdict"] == "valid", report
    assert list(bank.iterdir()) == []


def test_revoked_untrusted_and_forged_documents_through_the_third_party_source(served: Served, bank: Path) -> None:
    doc = served.issue("2392/QĐ-UBND", b"a decision")
    annulled = served.issue("2393/QĐ-UBND", b"annulled")
    served.anchor()
    served.revoke(annulled["id"])
    root = served.get("/v1/trust-root").json()

    code, report = _verify(bank, served, root, annulled["verify_url"])
    assert code == 1 and report["verdict"] == "revoked" and _code(report, "not_revoked") == "DOC_REVOKED", report

    # Untrusted: a receipt in the city's name, signed by a key the city never listed.
    client = served.services.registry()
    registry = Registry.of(client.chain_id, client.address)
    fields = ReceiptFields(
        issuer_id="ubnd-hcm",
        document_id=bytes(16),
        file_sha256=bytes(32),
        metadata_digest=bytes(32),
        issued_at=datetime.now(UTC).replace(microsecond=0),
        registry=registry,
        number="2392/QĐ-UBND",
        issued_on=datetime.now(UTC).date(),
    )
    stranger = encode_payload(sign_receipt(generate_signing_key("ES256"), fields))
    code, report = _verify(bank, served, root, f"{served.base}/v#{stranger}")
    assert code == 1 and report["verdict"] == "untrusted" and _code(report, "issuer_trusted") == "KEY_UNKNOWN"

    # Forged: the city's signature over another file's hash.
    genuine = decode_payload(doc["verify_url"].split("#", 1)[1], registry=registry)
    forged = encode_payload(replace(genuine, file_sha256=bytes(32)))
    code, report = _verify(bank, served, root, f"{served.base}/v#{forged}")
    assert code == 1 and report["verdict"] == "invalid" and _code(report, "signature") == "SIGNATURE_INVALID"

    # A root the bank did not pin: the service's trust list does not verify, nothing is decided.
    foreign = generate_signing_key("ES256").public_jwk()
    code, report = _verify(bank, served, foreign, doc["verify_url"])
    assert code == 2 and report["error"]["code"] == "KEY_UNKNOWN", report


def test_the_python_api_is_the_same_verifier(served: Served) -> None:
    doc = served.issue("2392/QĐ-UBND", b"a decision")
    served.anchor()
    root = served.get("/v1/trust-root").json()
    bank = third_party_verifier(rpc_url=served.anvil.url, trust_root=root, service_url=served.base)
    assert bank.verify(doc["verify_url"]).verdict.value == "valid"
    report = bank(VerifyRequest(payload=doc["verify_url"], file=b"another file"))
    assert report.verdict.value == "invalid"
    assert [c.code for c in report.checks if c.name == "file_matches"] == ["FILE_MISMATCH"]
    late = served.issue("2395/QĐ-UBND", b"issued after the anchoring")
    assert bank.verify(late["verify_url"]).verdict.value == "pending"


def test_a_citizen_id_verifies_with_the_status_list_fetched_from_the_service(served: Served, bank: Path) -> None:
    wallet = create_wallet(bank.parent / "wallet.json", "ví của tôi", scrypt_n=2**10)
    presentation = served.presentation(wallet, "https://bank.example/kyc")
    root = served.get("/v1/trust-root").json()
    code, report = _verify(bank, served, root, presentation, "--trust-list-url", f"{served.base}/v1/trust-list")
    assert code == 0 and report["verdict"] == "valid", report
    assert report["claims"] == {"given_name": "Thị Minh Khai", "age_over_18": True}
    assert _code(report, "status") == "NOT_REVOKED"
