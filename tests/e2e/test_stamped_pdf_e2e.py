"""The stamped PDF end to end over HTTP (issue 13): issue a PDF, anchor it, download ``stamped.pdf`` and verify the
file alone with ``POST /v1/verify``; an edit after stamping and a byte changed inside the original range are
``invalid`` with their own codes; a document issued from another file gets a cover page whose QR code verifies.
Real app, real anvil, SQLite and PostgreSQL (the ``stack`` of test_documents_e2e)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import NameObject, TextStringObject
from typer.testing import CliRunner

from tests.e2e.test_documents_e2e import FILE, META, PUBLIC, Stack, stack
from tests.pdf_samples import sample_pdf
from verifier.pdf import find_stamp
from verifier.qr import decode_qr_image

__all__ = ["stack"]  # the fixture, shared with test_documents_e2e

pytestmark = pytest.mark.anvil

DECISION = sample_pdf(pages=2)


def _checks(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in report["checks"]}


def _verify_file(stack: Stack, pdf: bytes) -> dict[str, Any]:
    r = stack.client.post("/v1/verify", files={"file": ("decision.pdf", pdf, "application/pdf")})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _stamped(stack: Stack, number: str = "2392/QĐ-UBND") -> tuple[dict[str, Any], bytes]:
    doc = stack.issue(dict(META, number=number), file=DECISION)
    stack.anchor()
    r = stack.client.get(f"/v1/documents/{doc['id']}/stamped.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.headers["x-xacthuc-stamped"] == "true"
    assert f'filename="{doc["id"]}.stamped.pdf"' in r.headers["content-disposition"]
    return doc, r.content


def test_a_stamped_pdf_alone_verifies_over_http(stack: Stack) -> None:
    doc, pdf = _stamped(stack)
    assert pdf.startswith(DECISION) and hashlib.sha256(pdf[: len(DECISION)]).hexdigest() == doc["sha256"]
    report = _verify_file(stack, pdf)
    assert report["verdict"] == "valid", report
    assert _checks(report)["file_matches"] == "FILE_MATCHES"
    assert report["claims"]["document_id"] == doc["id"] and report["claims"]["title"] == META["title"]
    [file_check] = [c for c in report["checks"] if c["name"] == "file_matches"]
    assert file_check["data"]["original_length"] == len(DECISION)


def test_an_update_appended_after_stamping_is_invalid_and_said(stack: Stack) -> None:
    _doc, pdf = _stamped(stack)
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.root_object[NameObject("/Lang")] = TextStringObject("vi")
    out = io.BytesIO()
    writer.write(out)
    report = _verify_file(stack, out.getvalue())
    assert report["verdict"] == "invalid"
    assert _checks(report)["file_matches"] == "FILE_UPDATED_AFTER_STAMP"


def test_a_byte_changed_in_the_original_range_is_invalid_and_said(stack: Stack) -> None:
    _doc, pdf = _stamped(stack)
    flipped = bytearray(pdf)
    flipped[DECISION.index(b"Trang 1")] ^= 0x20  # "trang": still a valid PDF, one letter changed
    report = _verify_file(stack, bytes(flipped))
    assert report["verdict"] == "invalid"
    assert _checks(report)["file_matches"] == "FILE_MODIFIED"


def test_the_verifier_page_way_sends_only_the_payload_the_range_hash_and_the_layout(stack: Stack) -> None:
    _doc, pdf = _stamped(stack)
    stamp = find_stamp(pdf)
    assert stamp is not None and stamp.payload is not None
    body = {
        "payload": stamp.payload,
        "sha256": hashlib.sha256(pdf[: stamp.original_length]).hexdigest(),
        "pdf_stamp": stamp.to_dict(),
    }
    report = stack.client.post("/v1/verify", json=body).json()
    assert report["verdict"] == "valid" and _checks(report)["file_matches"] == "FILE_MATCHES"
    later = dict(body, pdf_stamp=dict(stamp.to_dict(), length=stamp.length + 500))
    assert _checks(stack.client.post("/v1/verify", json=later).json())["file_matches"] == "FILE_UPDATED_AFTER_STAMP"
    alone = stack.client.post("/v1/verify", json={"payload": stamp.payload, "pdf_stamp": stamp.to_dict()})
    assert alone.status_code == 422 and alone.json()["error"]["code"] == "INVALID_INPUT"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) missing")
def test_a_document_issued_from_another_file_gets_a_cover_page_that_verifies_by_its_qr(
    stack: Stack, tmp_path: Path
) -> None:
    doc = stack.issue(dict(META, number="2393/QĐ-UBND"), file=FILE)  # not a PDF
    stack.anchor()
    r = stack.client.get(f"/v1/documents/{doc['id']}/stamped.pdf")
    assert r.status_code == 200 and r.headers["x-xacthuc-stamped"] == "false"
    (tmp_path / "cover.pdf").write_bytes(r.content)
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-png", str(tmp_path / "cover.pdf"), str(tmp_path / "c")], check=True
    )
    [page] = sorted(tmp_path.glob("c*.png"))
    [link] = decode_qr_image(page.read_bytes())
    assert link.decode() == doc["verify_url"]
    report = stack.verify(link.decode(), file=FILE)
    assert report["verdict"] == "valid" and _checks(report)["file_matches"] == "FILE_MATCHES"


def test_an_unknown_document_has_no_stamped_pdf(stack: Stack) -> None:
    r = stack.client.get("/v1/documents/01J9ZX3Q4K8M2N6P7R8S9T0V1W/stamped.pdf")
    assert r.status_code == 404 and r.json()["error"]["code"] == "DOC_NOT_FOUND"


def test_doc_stamp_writes_the_stamped_pdf_and_verify_takes_it_alone(stack: Stack, tmp_path: Path) -> None:
    """``xacthuc doc stamp ID -o FILE`` then ``xacthuc verify FILE`` (the data dir's public sources, the chain through
    --rpc-url): valid; the same file edited after stamping: invalid, exit 1, with its code."""
    from xacthuc.cli import app

    doc = stack.issue(dict(META, number="2394/QĐ-UBND"), file=DECISION)
    stack.anchor()
    env = {
        "XACTHUC_DATABASE_URL": stack.services.settings.database_url,
        "XACTHUC_PUBLIC_URL": PUBLIC,
        "XACTHUC_REGISTRY_ADDRESS": stack.registry.address,
        "XACTHUC_CHAIN_ID": str(stack.registry.chain_id),
    }
    runner = CliRunner()
    out = tmp_path / "decision.pdf"
    common = ["--data-dir", str(stack.data_dir)]
    r = runner.invoke(app, ["doc", "stamp", doc["id"], "-o", str(out), *common, "--json"], env=env)
    assert r.exit_code == 0, r.output
    written = json.loads(r.output)
    assert written == {
        "id": doc["id"],
        "path": str(out),
        "bytes": out.stat().st_size,
        "stamped": True,
        "original_length": len(DECISION),
    }
    assert out.read_bytes() == stack.client.get(f"/v1/documents/{doc['id']}/stamped.pdf").content
    verify = ["verify", str(out), *common, "--rpc-url", stack.anvil.url, "--json"]
    r = runner.invoke(app, verify, env=env)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["verdict"] == "valid" and _checks(report)["file_matches"] == "FILE_MATCHES"

    out.write_bytes(out.read_bytes() + b"\n1 0 obj\n<< >>\nendobj\nstartxref\n0\n%%EOF\n")
    r = runner.invoke(app, verify, env=env)
    assert r.exit_code == 1, r.output
    assert _checks(json.loads(r.output))["file_matches"] == "FILE_UPDATED_AFTER_STAMP"

    (tmp_path / "plain.pdf").write_bytes(DECISION)  # a PDF without a stamp: said, exit 2
    r = runner.invoke(app, ["verify", str(tmp_path / "plain.pdf"), *common, "--json"], env=env)
    assert r.exit_code == 2 and "without a xacthuc stamp" in r.output
