"""Shared ground for the forgery suites: one real city per module, and the payload's byte layout to alter.

``forgery_city`` starts what a forger attacks: the app on a real socket over a real anvil (``tests.verifier.served``),
documents issued over HTTP and anchored by the worker in two batches, one revoked, one superseded, one left pending,
and a second documents agency (``ubnd-q1``) whose keys are real and trusted but not the issuer's. Attacks then go
through ``POST /v1/verify``, through the third-party verifier (RPC + pinned root, as ``xacthuc verify bundle.json``
does) and through the domain verifiers directly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from sqlmodel import Session

from keys.qrtext import b43decode, b43encode
from ledger.chain.client import RegistryClient
from ledger.documents.receipt import PAYLOAD_PREFIX, Receipt, Registry, decode_payload
from tests.plugins.chain import FUNDING_WEI, anvil_binary
from tests.verifier.served import TIMEOUT, Served, serve_city
from verifier.service import Verifier
from verifier.third_party import third_party_verifier
from xacthuc.devchain import AnvilNode, fund

OTHER_AGENCY = "ubnd-q1"  # a second documents agency: trusted, but not the issuer of the city's documents
NUMBERS = {  # name -> number; the names say what each document becomes
    "a1": "2392/QĐ-UBND",
    "a2": "2393/QĐ-UBND",  # a1 and a2: batch 1 (two leaves)
    "b1": "2394/QĐ-UBND",
    "b2": "2395/QĐ-UBND",
    "revoked": "2396/QĐ-UBND",
    "superseded": "2397/QĐ-UBND",
    "replacement": "2398/QĐ-UBND",  # b1 .. replacement: batch 2 (five leaves)
    "pending": "2399/QĐ-UBND",  # issued after the last anchoring
}


@dataclass
class ForgeryCity:
    """The served city, its documents by name (the issue answer, ``receipt.payload`` included) and their bundles."""

    served: Served
    registry: Registry
    root_jwk: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)  # fetched once anchored, before any revocation
    other_account: LocalAccount | None = None

    @property
    def base(self) -> str:
        return self.served.base

    def payload(self, name: str) -> str:
        return str(self.docs[name]["receipt"]["payload"])

    def receipt(self, name: str) -> Receipt:
        return decode_payload(self.payload(name), registry=self.registry)

    def verify(self, payload: str, **fields: Any) -> dict[str, Any]:
        """``POST /v1/verify`` on the real app: the report (a 200 whatever the verdict)."""
        r = httpx.post(f"{self.base}/v1/verify", json={"payload": payload, **fields}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def bundle(self, name: str) -> dict[str, Any]:
        """A fresh deep copy of the document's proof bundle as it was when anchored (safe to alter)."""
        return copy.deepcopy(self.bundles[name])

    def third_party(self, *, trust_list: str | None = None) -> Verifier:
        """A bank's verifier: only the RPC URL and the pinned root (and the city service for its trust list)."""
        return third_party_verifier(
            rpc_url=self.served.anvil.url, trust_root=self.root_jwk, service_url=self.base, trust_list=trust_list
        )

    def signer(self, agency_id: str) -> Any:
        return self.served.city.keyring(agency_id).signer(datetime.now(UTC))


def _get_json(base: str, path: str) -> dict[str, Any]:
    r = httpx.get(base + path, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _revoke(served: Served, doc_id: str, body: dict[str, Any]) -> None:
    r = httpx.post(
        f"{served.base}/v1/documents/{doc_id}/revoke",
        json=body,
        headers={"Authorization": f"Bearer {served.api_key}"},
        timeout=TIMEOUT,
    )
    assert r.status_code in (200, 202), r.text


def forgery_city(tmp: Path, deployer: LocalAccount, *, documents: bool = True) -> Iterator[ForgeryCity]:
    """Build the city (generator for a module-scoped fixture): anvil, registry, served app, and unless told not to,
    the documents and the second agency."""
    with ExitStack() as stack:
        node = AnvilNode(anvil_binary(), state_file=tmp / "anvil" / "state.json")
        node.start()
        stack.callback(node.stop)
        fund(node.url, deployer.address, FUNDING_WEI)
        from web3 import HTTPProvider, Web3

        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 10}))
        registry = RegistryClient.deploy(w3, deployer, deployer.address, timeout=10)
        served = stack.enter_context(serve_city(tmp / "city", node, registry))
        city = ForgeryCity(
            served, Registry.of(registry.chain_id, registry.address), _get_json(served.base, "/v1/trust-root")
        )
        if not documents:
            yield city
            return
        files = {name: f"%PDF-1.7 quyết định {n}".encode() for name, n in NUMBERS.items()}
        for name in ("a1", "a2"):
            city.docs[name] = served.issue(NUMBERS[name], files[name])
        served.anchor()
        for name in ("b1", "b2", "revoked", "superseded", "replacement"):
            city.docs[name] = served.issue(NUMBERS[name], files[name])
        served.anchor()
        for name, doc in city.docs.items():
            city.bundles[name] = _get_json(served.base, f"/v1/documents/{doc['id']}/bundle")
        _revoke(served, city.docs["revoked"]["id"], {"reason": "annulled"})
        replacement = {"reason": "replaced", "replaced_by": city.docs["replacement"]["id"]}
        _revoke(served, city.docs["superseded"]["id"], replacement)
        served.anchor()
        city.docs["pending"] = served.issue(NUMBERS["pending"], files["pending"])
        city.bundles["pending"] = _get_json(served.base, f"/v1/documents/{city.docs['pending']['id']}/bundle")
        with Session(served.services.engine) as session:
            served.city.provision_agency(
                session,
                name="Ủy ban nhân dân Quận 1",
                roles=["documents"],
                now=datetime.now(UTC) - timedelta(seconds=30),
                agency_id=OTHER_AGENCY,
                api_roles=[],
            )
            session.commit()
        city.other_account = served.city.eth_account(OTHER_AGENCY)
        fund(node.url, city.other_account.address, FUNDING_WEI)
        yield city


# ------------------------------------------------------------------------------------------- the payload's layout
def _varint_end(data: bytes, pos: int) -> int:
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


def payload_fields(payload: str) -> dict[str, tuple[int, int]]:
    """Each field of an ``XD1:`` payload (docs/qr-payload.md, "Binary payload") as its byte span ``[start, end)``;
    a length-prefixed text's span is its bytes after the prefix."""
    raw = b43decode(payload.removeprefix(PAYLOAD_PREFIX))
    flags, pos, spans = raw[0], 1, {"flags": (0, 1)}

    def take(name: str, n: int) -> None:
        nonlocal pos
        spans[name] = (pos, pos + n)
        pos += n

    if flags & 0x01:
        end = _varint_end(raw, pos)
        take("chain_id", end - pos)
        take("registry_address", 20)
    if flags & 0x02:
        take("issuer_id", 16)
    else:
        pos += 1  # an issuer id of fewer than 128 bytes has a one-byte length
        take("issuer_id", raw[pos - 1])
    take("kid", 32 if flags & 0x04 else 8)
    take("document_id", 16)
    take("file_sha256", 32)
    take("metadata_digest", 32)
    take("issued_at", _varint_end(raw, pos) - pos)
    take("issued_on", _varint_end(raw, pos) - pos)
    pos += 1
    take("number", raw[pos - 1])
    take("signature", 64)
    assert pos == len(raw), "the layout walk must cover the payload exactly"
    return spans


def payload_bytes(payload: str) -> bytes:
    return b43decode(payload.removeprefix(PAYLOAD_PREFIX))


def payload_of(raw: bytes) -> str:
    return PAYLOAD_PREFIX + b43encode(raw)


def flip(payload: str, field_name: str, mask: int = 0x01) -> str:
    """The payload with the first byte of ``field_name`` XORed with ``mask`` (a varint's low bits: one second or
    one day; a text's first character; a hash's, an id's or a signature's first byte)."""
    raw = bytearray(payload_bytes(payload))
    start, _ = payload_fields(payload)[field_name]
    raw[start] ^= mask
    return payload_of(bytes(raw))
