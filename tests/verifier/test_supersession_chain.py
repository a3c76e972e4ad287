"""A chain of supersessions in the document pipeline (verifier/supersession.py), with the in-memory fakes of
test_document.py: A replaced by B, B by C verifies as superseded by C with the chain listed; loops, the bound,
receipts that do not belong to the leaf, unreadable links and revoked ends stop the walk without changing the
verdict."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ledger.chain.proof import Proof, RevocationReason
from ledger.documents.receipt import Receipt, commitment, encode_payload, sign_receipt
from tests.ledger.test_receipt_fixtures import ES256_SIGNER, REGISTRY, T0, fields
from tests.verifier.test_document import FILE, Chain, Directory, anchor, trusted
from verifier.document import verify_document
from verifier.report import CheckResult, Report, Verdict
from verifier.sources import Link
from verifier.supersession import MAX_LINKS

NOW = T0 + timedelta(days=1)
REVOKED_AT = T0 + timedelta(hours=2)


def _receipt(n: int, issuer: str = "ubnd-tphcm") -> Receipt:
    return sign_receipt(
        ES256_SIGNER,
        fields(
            issuer_id=issuer,
            document_id=bytes.fromhex("0190b5e0c7d0") + bytes([n]) * 10,
            number=f"{2392 + n}/QĐ-UBND",
            file_sha256=hashlib.sha256(FILE + bytes([n])).digest(),
        ),
    )


@dataclass
class Docs:
    """Documents in one registry, each anchored in its own root; ``links`` is a source's link_for."""

    chain: Chain = field(default_factory=Chain)
    receipts: dict[bytes, Receipt] = field(default_factory=dict)
    proofs: dict[bytes, Proof] = field(default_factory=dict)
    asked: list[tuple[bytes, str | None]] = field(default_factory=list)

    def add(self, n: int, **status: Any) -> bytes:
        r = _receipt(n)
        leaf = commitment(r)
        self.receipts[leaf] = r
        self.proofs[leaf] = anchor(r, self.chain, **status)
        return leaf

    def payload(self, leaf: bytes) -> str:
        return encode_payload(self.receipts[leaf], registry=REGISTRY)

    def link_for(self, leaf: bytes, document_id: str | None) -> Link | None:
        self.asked.append((leaf, document_id))
        if leaf not in self.receipts:
            return None
        return Link(leaf, proof=self.proofs[leaf], payload=self.payload(leaf))

    def verify(self, leaf: bytes, **kw: Any) -> Report:
        args: dict[str, Any] = {
            "resolver": Directory([trusted(ES256_SIGNER)]),
            "proof_source": self.proofs.get,
            "chain": self.chain,
            "now": NOW,
            "registry": REGISTRY,
            "links": self.link_for,
        }
        args.update(kw)
        return verify_document(self.payload(leaf), **args)


def _not_revoked(report: Report) -> CheckResult:
    return next(c for c in report.checks if c.name == "not_revoked")


def _chain(docs: Docs, n: int) -> list[bytes]:
    """Documents 1..n, each replaced by the next; the last in force."""
    leaves: list[bytes] = []
    for i in range(n, 0, -1):  # newest first, so each knows its replacement's leaf
        nxt = leaves[0] if leaves else None
        if nxt is None:
            leaves.insert(0, docs.add(i))
        else:
            leaves.insert(0, docs.add(i, reason=RevocationReason.REPLACED, replaced_by=nxt, revoked_at=REVOKED_AT))
    return leaves


def test_chain_of_two_supersessions_names_the_newest_and_lists_the_chain() -> None:
    docs = Docs()
    a, b, c = _chain(docs, 3)
    report = docs.verify(a)
    assert report.verdict is Verdict.SUPERSEDED
    check = _not_revoked(report)
    assert check.code == "DOC_SUPERSEDED"
    rb, rc = docs.receipts[b], docs.receipts[c]
    assert check.data["replaced_by"] == "0x" + b.hex()  # what the registry says for A
    assert check.data["replacement"] == {"document_id": rc.document_id_str, "number": "2395/QĐ-UBND"}
    assert check.data["supersession_chain"] == [
        {"document_id": rb.document_id_str, "number": "2394/QĐ-UBND", "leaf": "0x" + b.hex(), "status": "superseded"},
        {"document_id": rc.document_id_str, "number": "2395/QĐ-UBND", "leaf": "0x" + c.hex(), "status": "in_force"},
    ]
    assert "2394/QĐ-UBND" in check.message and "→ 2395/QĐ-UBND" in check.message
    # B verifies as superseded by C alone; C is valid.
    assert _not_revoked(docs.verify(b)).data["supersession_chain"][0]["leaf"] == "0x" + c.hex()
    assert docs.verify(c).verdict is Verdict.VALID


def test_single_supersession_keeps_its_report() -> None:
    docs = Docs()
    a, b = _chain(docs, 2)
    check = _not_revoked(docs.verify(a))
    assert check.data["replacement"]["document_id"] == docs.receipts[b].document_id_str
    assert [e["status"] for e in check.data["supersession_chain"]] == ["in_force"]


def test_supersession_loop_stops() -> None:
    """B replaced by C and C by B on chain (the contract cannot refuse it): the walk stops at the repeated leaf."""
    docs = Docs()
    r2, r3 = _receipt(2), _receipt(3)
    b, c = commitment(r2), commitment(r3)
    docs.receipts[b], docs.receipts[c] = r2, r3
    docs.proofs[b] = anchor(r2, docs.chain, reason=RevocationReason.REPLACED, replaced_by=c)
    docs.proofs[c] = anchor(r3, docs.chain, reason=RevocationReason.REPLACED, replaced_by=b)
    a = docs.add(1, reason=RevocationReason.REPLACED, replaced_by=b, revoked_at=REVOKED_AT)
    check = _not_revoked(docs.verify(a))
    assert docs.verify(a).verdict is Verdict.SUPERSEDED
    assert check.data["supersession_loop"] is True
    assert [e["leaf"] for e in check.data["supersession_chain"]] == ["0x" + b.hex(), "0x" + c.hex()]
    # A replaced by itself on chain: a loop at once, the leaf named.
    docs2 = Docs()
    r1 = _receipt(1)
    leaf = commitment(r1)
    docs2.receipts[leaf] = r1
    docs2.proofs[leaf] = anchor(r1, docs2.chain, reason=RevocationReason.REPLACED, replaced_by=leaf)
    check = _not_revoked(docs2.verify(leaf))
    assert check.data["supersession_loop"] is True and check.data["supersession_chain"] == []


def test_supersession_chain_is_bounded() -> None:
    docs = Docs()
    leaves = _chain(docs, MAX_LINKS + 3)
    check = _not_revoked(docs.verify(leaves[0]))
    assert len(check.data["supersession_chain"]) == MAX_LINKS
    assert check.data["supersession_truncated"] is True
    assert len(docs.asked) == MAX_LINKS  # no link read past the bound


def test_link_whose_receipt_is_another_document_is_not_believed() -> None:
    """A source (say a lying service) answers for B's leaf with C's receipt: B stays unconfirmed, unnamed."""
    docs = Docs()
    a, b, c = _chain(docs, 3)

    def lying(leaf: bytes, document_id: str | None) -> Link | None:
        return Link(leaf, proof=docs.proofs[leaf], payload=docs.payload(c))

    check = _not_revoked(docs.verify(a, links=lying))
    assert check.data["supersession_chain"] == [
        {"document_id": None, "number": None, "leaf": "0x" + b.hex(), "status": "unconfirmed"}
    ]
    assert "replacement" not in check.data


def test_link_anchored_by_an_account_outside_the_trust_list_is_unconfirmed() -> None:
    docs = Docs()
    a, b, _ = _chain(docs, 3)
    other = trusted(ES256_SIGNER, issuer_id="ubnd-q1", eth_address="0x" + "b2" * 20)
    docs.receipts[b] = _receipt(2, issuer="ubnd-q1")  # names an issuer whose account did not anchor B's root
    docs.proofs[b] = Proof(**{**docs.proofs[b].__dict__, "leaf": commitment(docs.receipts[b])})
    check = _not_revoked(docs.verify(a, resolver=Directory([trusted(ES256_SIGNER), other])))
    assert check.data["supersession_chain"][0]["status"] == "unconfirmed"


def test_unreadable_link_ends_the_walk_and_the_verdict_stands() -> None:
    docs = Docs()
    a, _, _ = _chain(docs, 3)

    def broken(leaf: bytes, document_id: str | None) -> Link | None:
        raise ConnectionError("service down")

    report = docs.verify(a, links=broken)
    assert report.verdict is Verdict.SUPERSEDED
    assert [e["status"] for e in _not_revoked(report).data["supersession_chain"]] == ["unconfirmed"]
    report = docs.verify(a, links=None, replacement_lookup={}.get)
    assert report.verdict is Verdict.SUPERSEDED


def test_chain_ending_in_a_revoked_document_says_so() -> None:
    docs = Docs()
    c = docs.add(3, reason=RevocationReason.ANNULLED, revoked_at=REVOKED_AT)
    b = docs.add(2, reason=RevocationReason.REPLACED, replaced_by=c, revoked_at=REVOKED_AT)
    a = docs.add(1, reason=RevocationReason.REPLACED, replaced_by=b, revoked_at=REVOKED_AT)
    check = _not_revoked(docs.verify(a))
    assert [e["status"] for e in check.data["supersession_chain"]] == ["superseded", "revoked"]
    assert check.data["supersession_chain"][-1]["reason"] == "annulled"
    assert "itself revoked" in check.message


def test_replacement_hint_reaches_the_source() -> None:
    """A third party finds the first replacement by the id the issuing service named (``replacement_hint``) and each
    next one by the id the previous link's source named."""
    docs = Docs()
    a, b, c = _chain(docs, 3)
    by_id = {"B-ID": b, "C-ID": c}

    def by_hint(leaf: bytes, document_id: str | None) -> Link | None:
        if document_id is None or by_id.get(document_id) != leaf:
            return None
        nxt = "C-ID" if leaf == b else None
        return Link(leaf, proof=docs.proofs[leaf], payload=docs.payload(leaf), replaced_by=nxt)

    check = _not_revoked(docs.verify(a, links=by_hint, replacement_hint=lambda: "B-ID"))
    assert [e["status"] for e in check.data["supersession_chain"]] == ["superseded", "in_force"]
    check = _not_revoked(docs.verify(a, links=by_hint))  # no hint: the service cannot be asked by leaf
    assert [e["status"] for e in check.data["supersession_chain"]] == ["unconfirmed"]
