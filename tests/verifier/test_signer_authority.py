"""The ``signer_authority`` check end to end (issue 13): a city served on a real socket over a real anvil, the
register written over HTTP by the agency's admin, documents issued, anchored and verified online (the server's
verifier), through the proof bundle with only an RPC node (a bank's ``xacthuc verify``), and offline (the offline
bundle carries the register). An appointment anchored after the document it would justify does not count."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from ledger.offices.register import entries_of
from tests.verifier.served import META, TIMEOUT, Served, serve_city
from verifier.offline import verify_bundle_offline, verify_offline_bundle
from xacthuc.devchain import AnvilNode

pytestmark = pytest.mark.anvil
AGENCY = "ubnd-hcm"


@pytest.fixture
def served(tmp_path: Path, anvil: AnvilNode, anvil_registry: Any) -> Iterator[Served]:
    with serve_city(tmp_path / "city", anvil, anvil_registry) as city:
        yield city


def _admin(served: Served) -> dict[str, str]:
    creds = json.loads((served.services.settings.data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    return {"Authorization": f"Bearer {creds['admin_token']}"}


def _post(served: Served, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{served.base}{path}", json=body, headers=headers, timeout=TIMEOUT)


def _anchor_register(served: Served) -> None:
    """Drive the worker until every register entry of the agency is anchored (a deadline, no sleeps)."""
    anchorer = served.services.anchorer()
    deadline = time.monotonic() + 60
    while True:
        anchorer.step(force=True)
        with Session(served.services.engine) as s:
            if all(e.anchored for e in entries_of(s, AGENCY, proofs=False)):
                return
        assert time.monotonic() < deadline, "register entries not anchored in time"


def _issue(served: Served, number: str, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{served.base}/v1/documents",
        data={**META, "number": number, "signing_form": "KT.", **fields},
        files={"file": ("qd.pdf", f"decision {number}".encode(), "application/pdf")},
        headers={"Authorization": f"Bearer {served.api_key}"},
        timeout=TIMEOUT,
    )


def _check(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == "signer_authority")


def _verify_online(served: Served, payload: str) -> dict[str, Any]:
    r = httpx.post(f"{served.base}/v1/verify", json={"payload": payload}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _verify_bank(tmp_path: Path, served: Served, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``xacthuc verify bundle.json --rpc-url URL --trust-root ROOT.jwk --json``: only an RPC node and the root."""
    from xacthuc.cli import app

    root = tmp_path / "root.jwk"
    root.write_text(json.dumps(served.get("/v1/trust-root").json()), encoding="utf-8")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("XACTHUC_")}
    try:
        r = CliRunner().invoke(
            app, ["verify", str(path), "--rpc-url", served.anvil.url, "--trust-root", str(root), "--json"]
        )
    finally:
        os.environ.update(saved)
    return r.exit_code, json.loads(r.output)


def _appoint(served: Served) -> None:
    admin = _admin(served)
    head = {"title": "Chủ tịch", "holder": "Phan Văn Mãi", "from": "2024-01-01", "head": True, "collective": True}
    r = _post(served, f"/v1/agencies/{AGENCY}/offices", head, admin)
    assert r.status_code == 201, r.text
    deputy = {"title": "Phó Chủ tịch", "holder": META["signer_name"], "from": "2024-01-01", "deputy_of": "o1"}
    r = _post(served, f"/v1/agencies/{AGENCY}/offices", deputy, admin)
    assert r.status_code == 201 and r.json()["seq"] == 2, r.text


def test_signer_authority_online_through_the_bundle_and_offline(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _issue(served, "2390/QĐ-UBND")  # the agency keeps no register yet: issued as today
    assert before.status_code == 201, before.text
    served.anchor()
    _appoint(served)
    r = _issue(served, "2391/QĐ-UBND")
    assert r.status_code == 409 and r.json()["error"]["code"] == "OFFICE_ENTRY_PENDING", r.text
    _anchor_register(served)
    r = _issue(served, "2392/QĐ-UBND", signer_name="Nguyễn Văn Dũng")  # KT.: the deputy of the head
    assert r.status_code == 201, r.text
    doc = r.json()
    for wrong, expected in (
        ({"signer_name": "Nguyễn Văn Dung"}, "SIGNER_NOT_IN_OFFICE"),
        ({"signer_name": "Nguyễn Văn Dũng".replace("V", "\u0412")}, "SIGNER_NOT_IN_OFFICE"),  # Cyrillic В
        ({"signing_form": "TM."}, "SIGNING_FORM_NOT_ALLOWED"),
        ({"signing_form": "TUQ."}, "DELEGATION_MISSING"),
    ):
        r = _issue(served, "2393/QĐ-UBND", **wrong)
        assert r.status_code == 422 and r.json()["error"]["code"] == expected, r.text

    # An insider issues a decision signed by a deputy the register does not have, bypassing the service's check,
    # then appoints her with a back-dated start: the appointment is anchored after the document, so it does not count.
    monkeypatch.setattr("ledger.documents.issuing.signer_check", lambda session, agency: lambda doc, item=None: None)
    r = _issue(served, "2394/QĐ-UBND", signer_name="Trần Thị Mới")
    assert r.status_code == 201, r.text
    forged = r.json()
    served.anchor()
    monkeypatch.undo()
    late = {"title": "Phó Chủ tịch", "holder": "Trần Thị Mới", "from": "2024-01-01", "deputy_of": "o1"}
    assert _post(served, f"/v1/agencies/{AGENCY}/offices", late, _admin(served)).status_code == 201
    _anchor_register(served)

    # online: the server's verifier
    report = _verify_online(served, doc["verify_url"])
    check = _check(report)
    assert report["verdict"] == "valid" and check["status"] == "valid" and check["code"] == "SIGNER_IN_OFFICE", check
    assert check["data"]["entry"] == 2 and check["data"]["office"]["holder"] == "Nguyễn Văn Dũng"
    assert check["data"]["source"]["anchor"]["block"] < report["anchor"]["block"]
    report = _verify_online(served, forged["verify_url"])
    assert report["verdict"] == "invalid" and _check(report)["code"] == "SIGNER_NOT_IN_OFFICE", report
    report = _verify_online(served, before.json()["verify_url"])
    assert report["verdict"] == "valid" and _check(report)["status"] == "skipped", report
    assert _check(report)["code"] == "REGISTER_NOT_KEPT"

    # through the proof bundle, with only an RPC node and the pinned root
    bundle = served.get(f"/v1/documents/{doc['id']}/bundle").json()
    assert len(bundle["signer_authority"]["entries"]) == 3
    code, report = _verify_bank(tmp_path, served, bundle)
    assert code == 0 and _check(report)["code"] == "SIGNER_IN_OFFICE", report
    forged_bundle = served.get(f"/v1/documents/{forged['id']}/bundle").json()
    code, report = _verify_bank(tmp_path, served, forged_bundle)
    assert code == 1 and report["verdict"] == "invalid" and _check(report)["code"] == "SIGNER_NOT_IN_OFFICE", report
    gapped = {**bundle, "signer_authority": {"entries": bundle["signer_authority"]["entries"][1:]}}
    code, report = _verify_bank(tmp_path, served, gapped)  # entry 1 left out: noticed, never valid
    assert code == 1 and _check(report)["code"] == "REGISTER_INCOMPLETE", report

    # offline: the offline bundle carries the register (the proof bundle's own section is not needed)
    root = served.get("/v1/trust-root").json()
    state = verify_offline_bundle(served.get("/v1/offline-bundle").text, root, datetime.now(UTC))
    bare = {k: v for k, v in bundle.items() if k != "signer_authority"}
    report = verify_bundle_offline(state, bare, now=datetime.now(UTC)).to_dict()
    check = _check(report)
    assert report["verdict"] == "valid" and check["code"] == "SIGNER_IN_OFFICE", report
    assert "offline_bundle" in check["data"]
    bare_forged = {k: v for k, v in forged_bundle.items() if k != "signer_authority"}
    report = verify_bundle_offline(state, bare_forged, now=datetime.now(UTC)).to_dict()
    assert report["verdict"] == "invalid" and _check(report)["code"] == "SIGNER_NOT_IN_OFFICE", report


def test_the_register_is_public_and_only_an_admin_writes_it(served: Served) -> None:
    _appoint(served)
    body = served.get(f"/v1/agencies/{AGENCY}/offices").json()
    assert [e["seq"] for e in body["entries"]] == [1, 2] and body["entries"][0]["status"] == "pending"
    assert body["offices"][1]["deputy_of"] == "o1"
    issuer = {"Authorization": f"Bearer {served.api_key}"}  # documents:issue may not appoint anyone
    r = _post(
        served, f"/v1/agencies/{AGENCY}/offices", {"title": "Chủ tịch", "holder": "Ai Đó", "from": "2024-01-01"}, issuer
    )
    assert r.status_code == 403, r.text
    r = _post(served, f"/v1/agencies/{AGENCY}/offices/o2/end", {"until": "2024-05-31"}, _admin(served))
    assert r.status_code == 201 and r.json()["kind"] == "office.end", r.text
    r = _post(served, f"/v1/agencies/{AGENCY}/offices/o2/end", {"until": "2024-05-31"}, _admin(served))
    assert r.status_code == 409 and r.json()["error"]["code"] == "OFFICE_ALREADY_ENDED", r.text
    tuq: dict[str, Any] = {
        "form": "TUQ.",
        "delegate": "Lê Thị Hoa",
        "delegate_title": "Chánh Văn phòng",
        "from": "2024-01-01",
    }
    r = _post(served, f"/v1/agencies/{AGENCY}/delegations", tuq, _admin(served))
    assert r.status_code == 422 and r.json()["error"]["field"] == "until", r.text
    tuq |= {"until": "2024-12-31", "authorising_number": "15/QĐ-UBND", "document_types": ["QĐ"]}
    r = _post(served, f"/v1/agencies/{AGENCY}/delegations", tuq, _admin(served))
    assert r.status_code == 201 and r.json()["seq"] == 4, r.text
    r = _post(served, f"/v1/agencies/{AGENCY}/delegations/d4/revoke", {"from": "2024-06-01"}, _admin(served))
    assert r.status_code == 201, r.text
    r = httpx.get(f"{served.base}/v1/agencies/nobody/offices", timeout=TIMEOUT)
    assert r.status_code == 404
