"""Supersession end to end on anvil (issue 10): the replacement rules over HTTP, and A replaced by B, B by C verifying
A as superseded by C with the chain listed, through the server's verifier, the offline bundle and a third party
(the RPC URL, the pinned root and the service's proof bundles). On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from keys.authority import add_authority
from tests.e2e.test_documents_e2e import FILE, META, Stack, stack
from verifier.offline import verify_offline, verify_offline_bundle
from verifier.third_party import third_party_verifier

pytestmark = pytest.mark.anvil
__all__ = ["stack"]  # the fixture, shared with test_documents_e2e


def _revoke(stack: Stack, doc: dict[str, Any], agency: str = "ubnd-hcm", **body: Any) -> httpx.Response:
    r: httpx.Response = stack.client.post(f"/v1/documents/{doc['id']}/revoke", json=body, headers=stack.auth(agency))
    return r


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def _not_revoked(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == "not_revoked")


def _issue(stack: Stack, number: str, agency: str = "ubnd-hcm") -> dict[str, Any]:
    return stack.issue(dict(META, number=number), file=FILE + number.encode(), agency=agency)


def test_each_replacement_rule_over_http(stack: Stack) -> None:
    old, annulled, new = (_issue(stack, n) for n in ("2392/QĐ-UBND", "2393/QĐ-UBND", "2400/QĐ-UBND"))
    ward = _issue(stack, "15/QĐ-UBND", agency="ubnd-q1")
    stack.anchor()
    assert _revoke(stack, annulled, reason="annulled").status_code == 202
    stack.anchor()
    pending = _issue(stack, "2401/QĐ-UBND")  # not anchored: the tests drive the worker

    assert _error(_revoke(stack, old, reason="replaced")) == (422, "DOC_REPLACEMENT_REQUIRED")
    assert _error(_revoke(stack, old, reason="error", replaced_by=new["id"])) == (
        422,
        "DOC_REPLACEMENT_REASON_CONFLICT",
    )
    assert _error(_revoke(stack, old, replaced_by="01JNOSUCHDOCUMENT000000000")) == (422, "DOC_REPLACEMENT_NOT_FOUND")
    assert _error(_revoke(stack, old, replaced_by=old["id"])) == (422, "DOC_REPLACEMENT_SELF")
    assert _error(_revoke(stack, old, replaced_by=pending["id"])) == (409, "DOC_REPLACEMENT_NOT_ANCHORED")
    assert _error(_revoke(stack, old, replaced_by=annulled["id"])) == (422, "DOC_REPLACEMENT_REVOKED")
    other = _revoke(stack, ward, agency="ubnd-q1", replaced_by=new["id"])
    assert _error(other) == (422, "DOC_REPLACEMENT_OTHER_AGENCY")
    assert "xacthuc agency authority add ubnd-hcm ubnd-q1" in other.json()["error"]["message"]

    assert _revoke(stack, old, replaced_by=new["id"]).status_code == 202
    assert _error(_revoke(stack, new, replaced_by=old["id"])) == (422, "DOC_REPLACEMENT_CYCLE")
    assert stack.client.get(f"/v1/documents/{new['id']}").json().get("revocation") is None  # nothing recorded

    # Recorded authority: the city's decision may supersede the ward's; the report names it across agencies.
    with Session(stack.services.engine) as s:
        add_authority(s, "ubnd-hcm", "ubnd-q1", now=datetime.now(UTC))
        s.commit()
    assert _revoke(stack, ward, agency="ubnd-q1", replaced_by=new["id"]).status_code == 202
    stack.anchor()
    report = stack.verify(ward["verify_url"])
    assert report["verdict"] == "superseded"
    assert _not_revoked(report)["data"]["supersession_chain"] == [
        {"document_id": new["id"], "number": "2400/QĐ-UBND", "leaf": _leaf(stack, new), "status": "in_force"}
    ]


def _leaf(stack: Stack, doc: dict[str, Any]) -> str:
    leaf = stack.client.get(f"/v1/documents/{doc['id']}/bundle").json()["proof"]["leaf"]
    return str(leaf)


def _assert_superseded_by_c(report: dict[str, Any], b: dict[str, Any], c: dict[str, Any], leaves: list[str]) -> None:
    assert report["verdict"] == "superseded", json.dumps(report, ensure_ascii=False)
    check = _not_revoked(report)
    assert check["code"] == "DOC_SUPERSEDED"
    assert check["data"]["replaced_by"] == leaves[0]  # the registry's word for A: B
    assert check["data"]["replacement"] == {"document_id": c["id"], "number": "2401/QĐ-UBND"}
    assert check["data"]["supersession_chain"] == [
        {"document_id": b["id"], "number": "2400/QĐ-UBND", "leaf": leaves[0], "status": "superseded"},
        {"document_id": c["id"], "number": "2401/QĐ-UBND", "leaf": leaves[1], "status": "in_force"},
    ]
    assert f"2400/QĐ-UBND ({b['id']}) → 2401/QĐ-UBND ({c['id']})" in check["message"]


def test_chain_of_supersessions_verifies_as_superseded_by_the_newest(stack: Stack) -> None:
    a, b, c = (_issue(stack, n) for n in ("2392/QĐ-UBND", "2400/QĐ-UBND", "2401/QĐ-UBND"))
    stack.anchor()
    assert _revoke(stack, a, replaced_by=b["id"]).status_code == 202
    stack.anchor()
    assert _revoke(stack, b, replaced_by=c["id"]).status_code == 202
    stack.anchor()
    leaves = [_leaf(stack, b), _leaf(stack, c)]
    assert stack.client.get(f"/v1/documents/{a['id']}").json()["status"] == "superseded"
    bundle = stack.client.get(f"/v1/documents/{a['id']}/bundle").json()
    assert bundle["replaced_by"] == {"document_id": b["id"], "number": "2400/QĐ-UBND", "leaf": leaves[0]}

    # The server's own verifier (its database and the chain).
    _assert_superseded_by_c(stack.verify(a["verify_url"]), b, c, leaves)
    assert stack.verify(c["verify_url"])["verdict"] == "valid"

    # The offline bundle, signed by the city root (no chain, no server).
    root = json.loads(stack.client.get("/v1/trust-root").text)
    now = datetime.now(UTC)
    state = verify_offline_bundle(stack.client.get("/v1/offline-bundle").text, root, now)
    _assert_superseded_by_c(verify_offline(state, a["verify_url"], now=now).to_dict(), b, c, leaves)

    # A third party: the RPC URL, the pinned root and the service's public proof bundles (the test client stands in
    # for the service's address), for the QR code and for A's own proof bundle.
    third = third_party_verifier(
        rpc_url=stack.anvil.url, trust_root=root, service_url="http://testserver", http=stack.client
    )
    _assert_superseded_by_c(third.verify(a["verify_url"]).to_dict(), b, c, leaves)
    _assert_superseded_by_c(third.verify_bundle(bundle).to_dict(), b, c, leaves)
    old_bundle = {k: v for k, v in bundle.items() if k != "replaced_by"}  # saved before the supersession
    _assert_superseded_by_c(third.verify_bundle(old_bundle).to_dict(), b, c, leaves)

    # The chain cannot be closed: C replaced by A (A is replaced by B, B by C) is a cycle.
    assert _error(_revoke(stack, c, replaced_by=a["id"])) == (422, "DOC_REPLACEMENT_CYCLE")
