"""Every issue, revocation and supersession is in the audit log whoever did it: through the HTTP API (the API key and
its agency, the client's address), through the CLI (``cli``) and through the portal (the staff member); a repeated
request (the same number and file, or the same Idempotency-Key) is not a second act. The document's page in the
portal shows its whole history, whoever wrote it."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx

from tests.web.conftest import META, TIMEOUT, Server
from tests.web.test_agency_security import sign_in, staff_of, xacthuc


def _audit(server: Server, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.base}/v1/audit",
        params=params,
        headers={"Authorization": f"Bearer {server.credentials['admin_token']}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def _key_id(api_key: str) -> str:
    found = re.fullmatch(r"xk_([0-9a-f]{16})_.+", api_key)
    assert found, "an API key is xk_<id>_<secret>"
    return found.group(1)


def test_api_issue_revoke_and_supersede_are_audited_with_the_key_and_address(server: Server) -> None:
    actor = f"api-key:{_key_id(server.api_key())}"
    old = server.issue("501/QĐ-UBND", b"%PDF-1.7 audit api old")
    again = httpx.post(  # the same number and file: answered as the existing document, not a new act
        f"{server.base}/v1/documents",
        data={**META, "number": "501/QĐ-UBND"},
        files={"file": ("qd.pdf", b"%PDF-1.7 audit api old", "application/pdf")},
        headers=server.auth(),
        timeout=TIMEOUT,
    )
    assert again.status_code == 200 and again.json()["existing"] is True
    batch = httpx.post(
        f"{server.base}/v1/documents:batch",
        json={
            "documents": [
                {**META, "number": "502/QĐ-UBND", "file_base64": base64.b64encode(b"audit api new").decode()},
                {**META, "number": "503/QĐ-UBND", "file_base64": base64.b64encode(b"audit api 503").decode()},
            ]
        },
        headers={**server.auth(), "Idempotency-Key": "audit-batch-1"},
        timeout=TIMEOUT,
    )
    assert batch.status_code == 201, batch.text
    replayed = httpx.post(
        f"{server.base}/v1/documents:batch",
        json={
            "documents": [
                {**META, "number": "502/QĐ-UBND", "file_base64": base64.b64encode(b"audit api new").decode()},
                {**META, "number": "503/QĐ-UBND", "file_base64": base64.b64encode(b"audit api 503").decode()},
            ]
        },
        headers={**server.auth(), "Idempotency-Key": "audit-batch-1"},
        timeout=TIMEOUT,
    )
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    new, other = (d["id"] for d in batch.json()["documents"])
    for doc in (old["id"], new, other):
        server.wait_status(doc, "anchored")
    server.revoke(other, reason="error")
    server.revoke(old["id"], reason="replaced", replaced_by=new)

    issued = _audit(server, document_id=old["id"], action="document_issued")
    assert [(e["actor"], e["agency_id"], e["address"]) for e in issued] == [(actor, "ubnd-hcm", "127.0.0.1")]
    assert issued[0]["detail"]["number"] == "501/QĐ-UBND"
    assert len(_audit(server, document_id=new, action="document_issued")) == 1  # the replayed batch added nothing
    revoked = _audit(server, document_id=other, action="document_revoked")
    assert [(e["actor"], e["detail"]["reason"]) for e in revoked] == [(actor, "error")]
    superseded = _audit(server, document_id=old["id"], action="document_superseded")
    assert [(e["actor"], e["detail"]["replaced_by"], e["address"]) for e in superseded] == [(actor, new, "127.0.0.1")]


def test_cli_issue_import_and_revoke_are_audited_as_cli(server: Server, tmp_path: Path) -> None:
    pdf = tmp_path / "cli.pdf"
    pdf.write_bytes(b"%PDF-1.7 audit cli")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in META.items() if k != "number"]
    issued = xacthuc(server, "doc", "issue", str(pdf), "--number", "511/QĐ-UBND", "--agency", "ubnd-hcm", *flags)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7 audit cli import a")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7 audit cli import b")
    header = ",".join([*META, "file"])
    rows = [
        ",".join([*(f'"{v}"' for v in {**META, "number": n}.values()), f])
        for n, f in (("512/QĐ-UBND", "a.pdf"), ("513/QĐ-UBND", "b.pdf"))
    ]
    (tmp_path / "import.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    imported = xacthuc(server, "doc", "import", str(tmp_path / "import.csv"), "--agency", "ubnd-hcm")
    assert imported["issued"] == 2, imported
    server.wait_status(str(issued["id"]), "anchored")
    xacthuc(server, "doc", "revoke", str(issued["id"]), "--reason", "annulled", "--no-wait")

    entries = _audit(server, document_id=str(issued["id"]))
    assert [(e["action"], e["actor"], e["agency_id"]) for e in entries] == [
        ("document_revoked", "cli", "ubnd-hcm"),
        ("document_issued", "cli", "ubnd-hcm"),
    ]
    for doc_id in imported["ids"]:
        (entry,) = _audit(server, document_id=doc_id)
        assert (entry["action"], entry["actor"], entry["detail"].get("import")) == ("document_issued", "cli", True)


def test_document_page_shows_the_whole_history_whoever_acted(server: Server) -> None:
    old = server.issue("521/QĐ-UBND", b"%PDF-1.7 history old")
    new = server.issue("522/QĐ-UBND", b"%PDF-1.7 history new")
    server.wait_status(old["id"], "anchored")
    server.wait_status(new["id"], "anchored")
    clerk = staff_of(server)
    client = sign_in(server, clerk["username"], clerk["password"])
    page = client.get(f"/agency/documents/{old['id']}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    r = client.post(
        f"/agency/documents/{old['id']}/revoke",
        data={"csrf_token": csrf.group(1), "action": "supersede", "replaced_by": new["id"], "confirmed": "yes"},
    )
    assert r.status_code == 303, r.text
    history = client.get(f"/agency/documents/{old['id']}?lang=en").text
    items = re.findall(r'<li data-action="([a-z_]+)"[^>]*>(.*?)</li>', history, re.S)
    assert [a for a, _ in items] == ["document_superseded", "document_issued"]
    assert f"staff {clerk['username']}" in items[0][1]
    assert "API key" in items[1][1] and _key_id(server.api_key()) in items[1][1]  # issued over HTTP, shown here too
    replacement = client.get(f"/agency/documents/{new['id']}?lang=en").text
    assert "Replaces" in replacement and "521/QĐ-UBND" in replacement  # the replacement's page names what it replaced
