"""Documents in process: bulk receipt issuance, verification latency, and the QR size of a typical decision.

``issue``: ``sign_receipt_with_commitment`` + ``encode_payload`` per document (ES256 via the key ring's
``LocalSigner``; the file hash and metadata digest are inputs, as the service computes them on upload).
``verify``: ``verify_document`` on the QR payload with the proof and the registry status served from memory, so it
measures the pipeline itself (decode, trust lookup, signature, Merkle path of a 1,024-leaf batch, status, report).
``bulk``: ``ledger.documents.issuing.issue_batch`` into a fresh SQLite file, and into PostgreSQL (parse, hash, sign,
rows + outbox leaves in one bulk insert each: ``executemany`` on SQLite, ``COPY`` on PostgreSQL; committed per chunk
of 1,000). Verification over HTTP: bench/bench_verify_http.py.
``peer``: OpenAttestation's figures on this machine (../shared/peers/openattestation/README.md), side by side.
Targets: >= 5,000 issued/s, verification p50 <= 2 ms.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._postgres import on_durable_postgres
from keys.generate import generate_signing_key
from keys.protocols import Signer, TrustedKey
from ledger.chain.merkle import MerkleTree
from ledger.chain.proof import DocumentChainStatus, Proof
from ledger.documents.metadata import parse_document
from ledger.documents.receipt import (
    Receipt,
    ReceiptFields,
    Registry,
    commitment,
    encode_payload,
    new_document_id,
    sign_receipt,
    sign_receipt_with_commitment,
    verify_link,
)
from verifier.document import verify_document
from verifier.qr import qr_png, qr_version

PUBLIC_URL = "https://xacthuc.hochiminhcity.gov.vn"
REGISTRY = Registry.of(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3")
AGENCY = "0x" + "a1" * 20
T0 = datetime(2024, 7, 15, 9, 30, tzinfo=UTC)
TYPICAL = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024 của Thành phố Hồ Chí Minh",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def _progress(msg: str) -> None:
    print(f"  documents: {msg}", file=sys.stderr, flush=True)


@dataclass
class _Directory:
    key: TrustedKey

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return self.key if (issuer_id, kid) == (self.key.issuer_id, self.key.kid) else None

    def keys_for(self, issuer_id: str) -> Iterable[TrustedKey]:
        return [self.key] if issuer_id == self.key.issuer_id else []


@dataclass
class _Chain:
    statuses: dict[bytes, DocumentChainStatus]

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        return self.statuses.get(root, DocumentChainStatus(anchorer=None, anchored_at=None))


def _fields(i: int, meta: bytes) -> ReceiptFields:
    now = T0 + timedelta(milliseconds=i)
    return ReceiptFields(
        issuer_id="ubnd-tphcm",
        document_id=new_document_id(now),
        file_sha256=hashlib.sha256(i.to_bytes(8, "big")).digest(),
        metadata_digest=meta,
        issued_at=now,
        registry=REGISTRY,
        number=f"{i + 1}/QĐ-UBND",
        issued_on=now.date(),
    )


def _issue(signer: Signer, n: int, meta: bytes) -> tuple[float, list[Receipt], list[str]]:
    all_fields = [_fields(i, meta) for i in range(n)]
    receipts: list[Receipt] = []
    payloads: list[str] = []
    start = time.perf_counter()
    for f in all_fields:
        r, _leaf = sign_receipt_with_commitment(signer, f)  # as issuing does
        payloads.append(encode_payload(r, registry=REGISTRY))
        receipts.append(r)
    return time.perf_counter() - start, receipts, payloads


def in_process(n_issue: int = 5000, n_verify: int = 2048) -> dict[str, Any]:
    signer = generate_signing_key("ES256")
    doc = parse_document(TYPICAL)
    meta = doc.digest()

    _progress(f"parsing and digesting {n_issue} documents")
    start = time.perf_counter()
    for _ in range(n_issue):
        parse_document(TYPICAL).digest()
    parse_s = time.perf_counter() - start

    _progress(f"issuing {n_issue} receipts")
    _issue(signer, 200, meta)  # warm up
    issue_s, receipts, payloads = _issue(signer, n_issue, meta)
    # The floor: the bare ES256 signature alone, on this machine, now (the CPU is shared; compare ratios).
    message = bytes(200)
    start = time.perf_counter()
    for _ in range(n_issue):
        signer.sign(message)
    raw_sign_s = time.perf_counter() - start

    _progress(f"anchoring {n_verify} in batches of 1024 (in memory)")
    trusted = TrustedKey(
        issuer_id="ubnd-tphcm",
        issuer_name="Ủy ban nhân dân Thành phố Hồ Chí Minh",
        kid=signer.kid,
        alg=signer.alg,
        jwk=signer.public_jwk(),
        roles=frozenset({"documents"}),
        not_before=T0 - timedelta(days=1),
        not_after=None,
        status="active",
        eth_address=AGENCY,
    )
    proofs: dict[bytes, Proof] = {}
    statuses: dict[bytes, DocumentChainStatus] = {}
    anchored_at = T0 + timedelta(minutes=1)
    for start_i in range(0, n_verify, 1024):
        batch = receipts[start_i : start_i + 1024]
        leaves = [commitment(r) for r in batch]
        tree = MerkleTree(leaves)
        statuses[tree.root] = DocumentChainStatus(anchorer=AGENCY, anchored_at=anchored_at)
        for leaf, path in zip(leaves, tree.proofs(), strict=True):
            proofs[leaf] = Proof(
                tree.root, path, leaf, REGISTRY.chain_id, REGISTRY.hex_address, "0x" + "ee" * 32, 7, anchored_at
            )

    _progress(f"verifying {n_verify} payloads")
    resolver, chain, now = _Directory(trusted), _Chain(statuses), T0 + timedelta(days=1)
    latencies: list[float] = []
    verdicts: dict[str, int] = {}
    wall = time.perf_counter()
    for p in payloads[:n_verify]:
        t = time.perf_counter()
        report = verify_document(p, resolver=resolver, proof_source=proofs.get, chain=chain, now=now, registry=REGISTRY)
        latencies.append(time.perf_counter() - t)
        verdicts[report.verdict.value] = verdicts.get(report.verdict.value, 0) + 1
    wall = time.perf_counter() - wall
    latencies.sort()

    link = verify_link(PUBLIC_URL, payloads[0])
    typical = sign_receipt(
        signer,
        ReceiptFields(
            issuer_id="ubnd-tphcm",
            document_id=new_document_id(T0),
            file_sha256=hashlib.sha256(b"decision").digest(),
            metadata_digest=meta,
            issued_at=T0,
            registry=REGISTRY,
            number=str(doc.number),
            issued_on=doc.issued_on,
        ),
    )
    typical_payload = encode_payload(typical, registry=REGISTRY)
    typical_link = verify_link(PUBLIC_URL, typical_payload)
    start = time.perf_counter()
    png = qr_png(typical_link)
    png_ms = (time.perf_counter() - start) * 1000
    return {
        "issue": {
            "documents": n_issue,
            "receipts_per_s": round(n_issue / issue_s),
            "target_per_s": 5000,
            "raw_es256_sign_per_s": round(n_issue / raw_sign_s),
            "parse_and_digest_per_s": round(n_issue / parse_s),
        },
        "verify": {
            "documents": n_verify,
            "p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 3),
            "docs_per_s": round(n_verify / wall),
            "target_p50_ms": 2.0,
            "verdicts": verdicts,
        },
        "qr": {
            "public_url": PUBLIC_URL,
            "payload_chars": len(typical_payload),
            "link_chars": len(typical_link),
            "version_ecc_m": qr_version(typical_link),
            "target_version": 12,
            "png_bytes": len(png),
            "png_render_ms": round(png_ms, 2),
            "version_first_bench_link": qr_version(link),
        },
        "cpus": os.cpu_count(),
    }


OPENATTESTATION = {
    "source": "../shared/peers/openattestation/README.md (2026-11-26, same machine, anvil)",
    "wrap_docs_per_s": "750-1,100",
    "verify_p50_ms": "14-15",
    "verify_docs_per_s": "62-67",
    "eth_calls_per_doc": 14,
    "qr_version_of_its_url": "15-16 (411-character link; the document itself does not fit a QR code)",
}


def _sign_ceilings(n: int) -> tuple[float, float]:
    """Signatures/s now: ES256 through ``cryptography`` directly (DER out, nothing else) and through a ``LocalSigner``
    (what issuing calls: raw r||s). The same message size as a receipt's signed bytes."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key, signer, message = ec.generate_private_key(ec.SECP256R1()), generate_signing_key("ES256"), bytes(170)
    ecdsa = ec.ECDSA(hashes.SHA256())
    start = time.perf_counter()
    for _ in range(n):
        key.sign(message, ecdsa)
    direct = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(n):
        signer.sign(message)
    return direct, n / (time.perf_counter() - start)


def bulk(
    n: int = 5000, chunk: int = 1000, rounds: int = 3, database: Callable[[Path], str] | None = None
) -> dict[str, Any]:
    """``issue_batch`` into a fresh database each round (``database`` gives its URL for a temporary directory;
    a SQLite file by default): documents/s including the database writes and commits; medians of ``rounds``.

    Each round also measures the bare ES256 signature (the ceiling) right after, since the CPU is shared and its
    speed changes from minute to minute; ``docs_per_cpu_s`` counts this process's CPU time only. An archive repeats
    its issuing body, place and signers; titles and numbers differ per document, as here. Files are ~200 bytes:
    hashing and storing real PDFs adds their size's cost on top.
    """
    import tempfile

    from sqlmodel import Session

    from ledger.documents.issuing import issue_batch
    from xacthuc.database import make_engine, migrate

    signer = generate_signing_key("ES256")
    items = [
        ({**TYPICAL, "number": f"{i + 1}/QĐ-UBND", "title": f"{TYPICAL['title']} (đợt {i + 1})"}, b"%d" % i * 40)
        for i in range(n)
    ]
    walls: list[float] = []
    cpus: list[float] = []
    direct: list[float] = []
    signed: list[float] = []
    _sign_ceilings(500)  # warm up
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(database(Path(tmp)) if database else f"sqlite:///{Path(tmp) / 'bench.db'}")
            migrate(engine)
            _progress(f"bulk issuing {n} documents into {engine.dialect.name} (round {r + 1} of {rounds})")
            start, cpu = time.perf_counter(), time.process_time()
            with Session(engine) as session:
                for k in range(0, n, chunk):
                    issue_batch(
                        session,
                        agency_id="ubnd-tphcm",
                        signer=signer,
                        account_address=AGENCY,
                        registry=REGISTRY,
                        items=items[k : k + chunk],
                        now=T0 + timedelta(days=1),
                        public_url=PUBLIC_URL,
                    )
                    session.commit()
            walls.append(n / (time.perf_counter() - start))
            cpus.append(n / (time.process_time() - cpu))
            engine.dispose()
        d, s = _sign_ceilings(n)
        direct.append(d)
        signed.append(s)
    return {
        "documents": n,
        "docs_per_s": round(statistics.median(walls)),
        "docs_per_cpu_s": round(statistics.median(cpus)),
        "runs_docs_per_s": [round(w) for w in walls],
        "target_per_s": 5000,
        "chunk": chunk,
        "es256_sign_per_s_cryptography": round(statistics.median(direct)),
        "es256_sign_per_s_signer": round(statistics.median(signed)),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def bulk_postgres(n: int = 5000, rounds: int = 3) -> dict[str, Any]:
    """:func:`bulk` into a durable PostgreSQL (``bench._postgres``), a fresh database each round."""
    return on_durable_postgres(lambda new_database: bulk(n, rounds=rounds, database=lambda _tmp: new_database()))


def run() -> dict[str, Any]:
    result = in_process()
    result["bulk_issue_sqlite"] = bulk()
    result["bulk_issue_postgres"] = bulk_postgres()
    result["side_by_side"] = {
        "xacthuc": {
            "issue_docs_per_s (bulk, SQLite)": result["bulk_issue_sqlite"]["docs_per_s"],
            "issue_docs_per_s (bulk, PostgreSQL)": result["bulk_issue_postgres"].get("docs_per_s"),
            "verify_p50_ms (in process)": result["verify"]["p50_ms"],
            "verify_docs_per_s (in process)": result["verify"]["docs_per_s"],
            "qr_version": result["qr"]["version_ecc_m"],
            "eth_calls_per_doc": 1,
        },
        "openattestation": OPENATTESTATION,
    }
    return result


if __name__ == "__main__":
    import json

    json.dump(run(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
