"""Receipt vectors: a fixed key and fixed inputs give this exact signed message, commitment and payload.

Regenerate (only for a deliberate format change, which needs a new version prefix):
``.venv/bin/python tests/ledger/test_receipt_vectors.py --write``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from test_receipt_fixtures import EDDSA_SIGNER, ES256_SIGNER, fields

from ledger.documents.receipt import Registry, commitment, decode_payload, encode_payload, sign_receipt, signed_bytes

DIR = Path(__file__).parents[1] / "vectors" / "receipts"
SIGNERS = {"ES256": ES256_SIGNER, "EdDSA": EDDSA_SIGNER}
CASES: dict[str, dict[str, Any]] = {
    "es256-typical-decision": {"alg": "ES256", "short_kid": True, "omit_registry": True},
    "es256-registry-included": {"alg": "ES256", "short_kid": True, "omit_registry": False},
    "es256-full-kid": {"alg": "ES256", "short_kid": False, "omit_registry": True},
    "eddsa-uuid-issuer": {
        "alg": "EdDSA",
        "short_kid": True,
        "omit_registry": True,
        "issuer_id": "3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c",
        "number": "15/2024/NĐ-CP",
        "issued_on": "2024-02-01",
    },
}


def build(name: str, case: dict[str, Any]) -> dict[str, Any]:
    over: dict[str, Any] = {}
    for k in ("issuer_id", "number"):
        if k in case:
            over[k] = case[k]
    if "issued_on" in case:
        over["issued_on"] = date.fromisoformat(case["issued_on"])
    f = fields(**over)
    r = sign_receipt(SIGNERS[case["alg"]], f, short_kid=case["short_kid"])
    registry = f.registry if case["omit_registry"] else None
    return {
        "description": f"{name}: deterministic {case['alg']} (RFC 6979 for ES256)",
        "alg": case["alg"],
        "jwk": SIGNERS[case["alg"]].public_jwk(),
        "short_kid": case["short_kid"],
        "verifier_registry": {"chain_id": f.registry.chain_id, "address": f.registry.hex_address},
        "registry_omitted": case["omit_registry"],
        "fields": {
            "issuer_id": f.issuer_id,
            "document_id": f.document_id.hex(),
            "file_sha256": f.file_sha256.hex(),
            "metadata_digest": f.metadata_digest.hex(),
            "issued_at": f.issued_at.isoformat(),
            "number": f.number,
            "issued_on": f.issued_on.isoformat(),
        },
        "signed_bytes": signed_bytes(r).hex(),
        "signature": r.signature.hex(),
        "commitment": commitment(r).hex(),
        "payload": encode_payload(r, registry=registry),
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector(name: str) -> None:
    expected = json.loads((DIR / f"{name}.json").read_text("utf-8"))
    assert build(name, CASES[name]) == expected
    reg = Registry.of(expected["verifier_registry"]["chain_id"], expected["verifier_registry"]["address"])
    r = decode_payload(expected["payload"], registry=reg)
    assert signed_bytes(r).hex() == expected["signed_bytes"]
    assert commitment(r).hex() == expected["commitment"]
    assert r.issued_at == datetime.fromisoformat(expected["fields"]["issued_at"])


if __name__ == "__main__" and "--write" in sys.argv:
    for case_name, case in CASES.items():
        out = json.dumps(build(case_name, case), ensure_ascii=False, indent=1) + "\n"
        (DIR / f"{case_name}.json").write_text(out, "utf-8")
