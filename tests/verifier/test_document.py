"""The document pipeline's verdicts, each check's failure modes, with in-memory fakes of the proof source and chain."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.protocols import TrustedKey
from ledger.chain.merkle import MerkleTree
from ledger.chain.proof import DocumentChainStatus, Proof, RevocationReason
from ledger.documents.receipt import Receipt, commitment, encode_payload, sign_receipt, verify_link
from tests.ledger.test_receipt_fixtures import EDDSA_SIGNER, ES256_SIGNER, REGISTRY, T0, FixedSigner, fields
from verifier.document import verify_document
from verifier.report import Report, Status, Verdict

AGENCY = "0x" + "a1" * 20
NOW = T0 + timedelta(days=1)
FILE = b"%PDF-1.7 the decision"
ANCHORED_AT = T0 + timedelta(seconds=5)


def trusted(signer: FixedSigner, **over: Any) -> TrustedKey:
    base: dict[str, Any] = {
        "issuer_id": "ubnd-tphcm",
        "issuer_name": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
        "kid": signer.kid,
        "alg": signer.alg,
        "jwk": signer.public_jwk(),
        "roles": frozenset({"documents"}),
        "not_before": T0 - timedelta(days=365),
        "not_after": None,
        "status": "active",
        "eth_address": "0x" + "A1" * 20,  # checksummed case differs from the chain's lowercase: still equal
    }
    base.update(over)
    return TrustedKey(**base)


@dataclass
class Directory:
    """A trust list that resolves full kids and lists an issuer's keys (for 8-byte short kids)."""

    keys: list[TrustedKey]

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.issuer_id == issuer_id and k.kid == kid), None)

    def keys_for(self, issuer_id: str) -> Iterable[TrustedKey]:
        return [k for k in self.keys if k.issuer_id == issuer_id]


@dataclass
class PlainResolver:
    keys: list[TrustedKey]

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return next((k for k in self.keys if k.issuer_id == issuer_id and k.kid == kid), None)


@dataclass
class Chain:
    """The registry, in memory: root -> status, answering only for the status's own anchorer (the registry keys
    anchors by agency and root); ``down`` simulates an unreachable node."""

    statuses: dict[bytes, DocumentChainStatus] = field(default_factory=dict)
    down: bool = False
    calls: int = 0

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        self.calls += 1
        if self.down:
            raise ConnectionError("connection refused")
        found = self.statuses.get(root)
        if found is None or (found.anchorer or "").lower() != agency.lower():
            return DocumentChainStatus(anchorer=None, anchored_at=None)
        return found


@dataclass
class World:
    receipt: Receipt
    proofs: dict[bytes, Proof]
    chain: Chain
    resolver: Any

    def verify(self, source: Receipt | str | None = None, **kw: Any) -> Report:
        src = source if source is not None else encode_payload(self.receipt, registry=REGISTRY)
        args: dict[str, Any] = {
            "resolver": self.resolver,
            "proof_source": self.proofs.get,
            "chain": self.chain,
            "now": NOW,
            "registry": REGISTRY,
        }
        args.update(kw)
        return verify_document(src, **args)

    @property
    def proof(self) -> Proof:
        return self.proofs[commitment(self.receipt)]


def anchor(receipt: Receipt, chain: Chain, *, others: int = 6, at: datetime = ANCHORED_AT, **status: Any) -> Proof:
    leaves = [bytes([i]) * 32 for i in range(1, others + 1)]
    leaves.insert(3, commitment(receipt))
    tree = MerkleTree(leaves)
    proof = Proof(
        root=tree.root,
        path=tree.proof(3),
        leaf=commitment(receipt),
        chain_id=REGISTRY.chain_id,
        contract=REGISTRY.hex_address,
        tx_hash="0x" + "ee" * 32,
        block=42,
        anchored_at=at,
    )
    chain.statuses[tree.root] = DocumentChainStatus(anchorer=AGENCY, anchored_at=at, **status)
    return proof


def world(
    signer: FixedSigner = ES256_SIGNER, *, key: TrustedKey | None = None, anchored: bool = True, **status: Any
) -> World:
    receipt = sign_receipt(signer, fields(file_sha256=__import__("hashlib").sha256(FILE).digest()))
    chain = Chain()
    proofs = {}
    if anchored:
        proofs[commitment(receipt)] = anchor(receipt, chain, **status)
    return World(receipt, proofs, chain, Directory([key or trusted(signer)]))


def check(report: Report, name: str) -> tuple[str, str]:
    c = next(c for c in report.checks if c.name == name)
    return c.status.value, c.code


# --------------------------------------------------------------------------------------------------- valid
@pytest.mark.parametrize("signer", [ES256_SIGNER, EDDSA_SIGNER], ids=["ES256", "EdDSA"])
def test_valid(signer: FixedSigner) -> None:
    w = world(signer)
    report = w.verify()
    assert report.verdict is Verdict.VALID, report.to_dict()
    assert [c.name for c in report.checks] == [
        "format",
        "issuer_trusted",
        "key_valid_at_signing",
        "signature",
        "metadata_matches",
        "anchored",
        "not_revoked",
        "signer_authority",
        "file_matches",
    ]
    assert check(report, "file_matches") == ("skipped", "NOT_APPLICABLE")
    assert check(report, "signer_authority") == ("skipped", "REGISTER_UNAVAILABLE")  # no source of registers
    assert check(report, "metadata_matches") == ("skipped", "METADATA_UNAVAILABLE")  # a bare QR code
    assert report.issuer == {"id": "ubnd-tphcm", "name": "Ủy ban nhân dân Thành phố Hồ Chí Minh"}
    assert report.claims["number"] == "2392/QĐ-UBND" and report.claims["issued_on"] == "2024-07-15"
    assert report.claims["document_id"] == w.receipt.document_id_str
    assert report.anchor == {
        "chain_id": 31337,
        "contract": REGISTRY.hex_address,
        "tx": "0x" + "ee" * 32,
        "block": 42,
        "time": "2024-07-15T09:30:17Z",
    }
    assert w.chain.calls == 1  # one eth_call per verification
    json.dumps(report.to_dict())


def test_valid_from_link_receipt_object_and_full_registry() -> None:
    w = world()
    assert w.verify(verify_link("https://x.gov.vn", encode_payload(w.receipt, registry=REGISTRY))).verdict == "valid"
    assert w.verify(w.receipt).verdict == "valid"
    assert w.verify(encode_payload(w.receipt), registry=None).verdict == "valid"


def test_file_matches_and_mismatch() -> None:
    w = world()
    assert w.verify(file_bytes=FILE).verdict is Verdict.VALID
    report = w.verify(file_bytes=FILE + b" altered")
    assert report.verdict is Verdict.INVALID
    assert check(report, "file_matches") == ("invalid", "FILE_MISMATCH")


def test_retired_key_still_verifies_what_it_signed() -> None:
    w = world(key=trusted(ES256_SIGNER, status="retired", not_after=T0 + timedelta(days=30)))
    assert w.verify().verdict is Verdict.VALID


# ------------------------------------------------------------------------------------------------- pending
def test_not_anchored_yet_is_pending() -> None:
    w = world(anchored=False)
    report = w.verify()
    assert report.verdict is Verdict.PENDING
    assert check(report, "anchored") == ("invalid", "DOC_NOT_ANCHORED")
    assert check(report, "not_revoked") == ("skipped", "NOT_APPLICABLE")
    assert w.chain.calls == 0 and report.anchor is None


def test_root_unknown_to_the_chain_is_pending() -> None:
    w = world()
    w.chain.statuses.clear()
    report = w.verify()
    assert report.verdict is Verdict.PENDING
    assert check(report, "anchored") == ("invalid", "ROOT_NOT_ON_CHAIN")


# ----------------------------------------------------------------------------------------------- untrusted
def test_unknown_issuer_is_untrusted() -> None:
    w = world()
    w.resolver = Directory([trusted(EDDSA_SIGNER)])
    report = w.verify()
    assert report.verdict is Verdict.UNTRUSTED
    assert check(report, "issuer_trusted") == ("invalid", "KEY_UNKNOWN")
    assert check(report, "signature")[0] == "skipped"
    assert report.issuer is None and report.claims == {}
    assert w.chain.calls == 0


def test_key_of_another_issuer_is_untrusted() -> None:
    w = world(key=trusted(ES256_SIGNER, issuer_id="ubnd-q1"))
    assert w.verify().verdict is Verdict.UNTRUSTED


def test_key_without_documents_role_is_untrusted() -> None:
    w = world(key=trusted(ES256_SIGNER, roles=frozenset({"identity"})))
    report = w.verify()
    assert report.verdict is Verdict.UNTRUSTED
    assert check(report, "issuer_trusted") == ("invalid", "KEY_ROLE_MISSING")


def test_issuer_without_an_eth_account_is_untrusted() -> None:
    w = world(key=trusted(ES256_SIGNER, eth_address=None))
    report = w.verify()
    assert report.verdict is Verdict.UNTRUSTED
    assert check(report, "anchored") == ("invalid", "ISSUER_ACCOUNT_UNKNOWN")


def test_short_kid_needs_a_listing_resolver_full_kid_does_not() -> None:
    w = world()
    w.resolver = PlainResolver([trusted(ES256_SIGNER)])
    report = w.verify()
    assert report.verdict is Verdict.ERROR
    assert check(report, "issuer_trusted") == ("error", "KEY_LOOKUP_UNSUPPORTED")
    full = sign_receipt(ES256_SIGNER, fields(file_sha256=w.receipt.file_sha256), short_kid=False)
    w.receipt = full
    w.proofs = {commitment(full): anchor(full, w.chain)}
    assert w.verify().verdict is Verdict.VALID


def test_short_kid_prefix_collision_picks_the_key_that_verifies() -> None:
    w = world()
    decoy = trusted(EDDSA_SIGNER, kid=ES256_SIGNER.kid[:11] + "A" * 32)  # same 8-byte prefix, other key
    w.resolver = Directory([decoy, trusted(ES256_SIGNER)])
    assert w.verify().verdict is Verdict.VALID


# ------------------------------------------------------------------------------------------------- invalid
def test_tampered_payload_fails_the_signature() -> None:
    w = world()
    forged = replace(w.receipt, number="9999/QĐ-UBND")
    report = w.verify(encode_payload(forged, registry=REGISTRY))
    assert report.verdict is Verdict.INVALID
    assert check(report, "signature") == ("invalid", "SIGNATURE_INVALID")
    assert report.claims == {} and w.chain.calls == 0


def test_alg_confusion_trust_list_alg_decides() -> None:
    # The payload carries no alg; a trust-list entry with a refused alg never verifies anything.
    for alg in ("none", "HS256"):
        report = world(key=trusted(ES256_SIGNER, alg=alg)).verify()
        assert check(report, "signature") == ("invalid", "ALG_NOT_ALLOWED")
    # An Ed25519 key listed as ES256 (or the reverse) does not verify either.
    w = world(EDDSA_SIGNER, key=trusted(EDDSA_SIGNER, alg="ES256"))
    assert check(w.verify(), "signature") == ("invalid", "SIGNATURE_INVALID")


@pytest.mark.parametrize(
    ("key_over", "code"),
    [
        ({"not_before": T0 + timedelta(seconds=1)}, "KEY_NOT_VALID_AT_SIGNING"),
        ({"not_after": T0}, "KEY_NOT_VALID_AT_SIGNING"),
        ({"status": "suspended"}, "KEY_STATUS_UNKNOWN"),
    ],
)
def test_key_not_valid_at_signing(key_over: dict[str, Any], code: str) -> None:
    report = world(key=trusted(ES256_SIGNER, **key_over)).verify()
    assert report.verdict is Verdict.INVALID
    assert check(report, "key_valid_at_signing") == ("invalid", code)


def test_receipt_dated_in_the_future() -> None:
    report = world().verify(now=T0 - timedelta(hours=1))
    assert check(report, "key_valid_at_signing") == ("invalid", "ISSUED_IN_FUTURE")


def test_compromised_key_valid_only_if_anchored_before_the_compromise() -> None:
    before = world(key=trusted(ES256_SIGNER, status="compromised", compromised_at=ANCHORED_AT + timedelta(hours=1)))
    assert before.verify().verdict is Verdict.VALID
    after = world(key=trusted(ES256_SIGNER, status="compromised", compromised_at=ANCHORED_AT))
    report = after.verify()
    assert report.verdict is Verdict.INVALID
    assert check(report, "key_valid_at_signing") == ("invalid", "KEY_COMPROMISED")
    unanchored = world(anchored=False, key=trusted(ES256_SIGNER, status="compromised", compromised_at=NOW))
    assert unanchored.verify().verdict is Verdict.INVALID
    unknown_time = world(key=trusted(ES256_SIGNER, status="compromised", compromised_at=None))
    assert unknown_time.verify().verdict is Verdict.INVALID


def test_root_anchored_by_another_account() -> None:
    """Only another account anchored the root: as far as the issuer is concerned, it is not anchored."""
    w = world()
    w.chain.statuses[w.proof.root] = DocumentChainStatus(anchorer="0x" + "b2" * 20, anchored_at=ANCHORED_AT)
    report = w.verify()
    assert report.verdict is Verdict.PENDING
    assert check(report, "anchored") == ("invalid", "ROOT_NOT_ON_CHAIN")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda p: replace(p, path=(*p.path[:-1], bytes(32))), "MERKLE_PATH_INVALID"),
        (lambda p: replace(p, path=p.path[:-1]), "MERKLE_PATH_INVALID"),
        (lambda p: replace(p, path=(b"short",)), "MERKLE_PATH_INVALID"),
        (lambda p: replace(p, path=(bytes(32),) * 65), "MERKLE_PATH_INVALID"),
        (lambda p: replace(p, leaf=bytes(32)), "PROOF_LEAF_MISMATCH"),
        (lambda p: replace(p, chain_id=1), "PROOF_REGISTRY_MISMATCH"),
        (lambda p: replace(p, contract="0x" + "00" * 20), "PROOF_REGISTRY_MISMATCH"),
    ],
    ids=["sibling", "short-path", "malformed-node", "too-long", "leaf", "chain", "contract"],
)
def test_bad_proofs(change: Any, code: str) -> None:
    w = world()
    key = commitment(w.receipt)
    w.proofs[key] = change(w.proofs[key])
    report = w.verify()
    assert report.verdict is Verdict.INVALID
    assert check(report, "anchored") == ("invalid", code)


def test_proof_for_another_documents_root_cannot_be_borrowed() -> None:
    w, other = world(), world()
    other_receipt = sign_receipt(ES256_SIGNER, fields(number="1/QĐ-UBND"))
    borrowed = anchor(other_receipt, w.chain)
    w.proofs[commitment(w.receipt)] = replace(borrowed, leaf=commitment(w.receipt))
    assert check(w.verify(), "anchored") == ("invalid", "MERKLE_PATH_INVALID")
    assert other.verify().verdict is Verdict.VALID


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=400),
        st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:", max_size=400).map(lambda s: "XD1:" + s),
    )
)
def test_garbage_is_invalid_never_a_crash(text: str) -> None:
    report = world(anchored=False).verify(text)
    assert report.verdict is Verdict.INVALID
    assert report.checks[0].name == "format" and report.checks[0].status is Status.INVALID


def test_citizen_id_payload_is_not_a_document() -> None:
    report = world().verify("XI1:ABC")
    assert check(report, "format") == ("invalid", "PAYLOAD_KIND_MISMATCH")


def test_payload_omitting_the_registry_needs_one_configured() -> None:
    report = world().verify(registry=None)
    assert check(report, "format") == ("invalid", "PAYLOAD_REGISTRY_UNKNOWN")


# ------------------------------------------------------------------------------------ revoked, superseded
@pytest.mark.parametrize("reason", [RevocationReason.ANNULLED, RevocationReason.ERROR, RevocationReason.OTHER, 9])
def test_revoked(reason: int) -> None:
    w = world(reason=reason, revoked_at=T0 + timedelta(hours=2))
    report = w.verify()
    assert report.verdict is Verdict.REVOKED
    c = next(c for c in report.checks if c.name == "not_revoked")
    assert (c.status, c.code) == (Status.INVALID, "DOC_REVOKED")
    assert c.data["revoked_at"] == "2024-07-15T11:30:12Z"
    assert c.data["reason"] == {1: "annulled", 3: "error", 4: "other"}.get(reason, "unknown")


def test_superseded_names_the_replacement() -> None:
    replacement = bytes.fromhex("ab" * 32)
    w = world(reason=RevocationReason.REPLACED, replaced_by=replacement, revoked_at=T0 + timedelta(hours=2))
    lookup = {replacement: {"number": "2400/QĐ-UBND", "document_id": "01J3"}}
    report = w.verify(replacement_lookup=lookup.get)
    assert report.verdict is Verdict.SUPERSEDED
    c = next(c for c in report.checks if c.name == "not_revoked")
    assert c.code == "DOC_SUPERSEDED" and "2400/QĐ-UBND" in c.message
    assert c.data["replaced_by"] == "0x" + "ab" * 32
    assert c.data["replacement"] == {"number": "2400/QĐ-UBND", "document_id": "01J3"}

    # Without a lookup (or a failing one) the leaf still names it.
    def broken(_: bytes) -> None:
        raise RuntimeError("db down")

    for kw in ({}, {"replacement_lookup": broken}):
        report = w.verify(**kw)
        assert report.verdict is Verdict.SUPERSEDED
        c = next(c for c in report.checks if c.name == "not_revoked")
        assert c.data["replaced_by"] == "0x" + "ab" * 32 and "replacement" not in c.data


def test_revoked_and_altered_file_is_invalid() -> None:
    report = world(reason=RevocationReason.ANNULLED).verify(file_bytes=b"other")
    assert report.verdict is Verdict.INVALID  # a forgery outranks revocation


# ---------------------------------------------------------------------------------------------- chain down
def test_chain_unreachable_is_error_never_valid() -> None:
    w = world()
    w.chain.down = True
    report = w.verify(file_bytes=FILE)
    assert report.verdict is Verdict.ERROR
    assert check(report, "anchored") == ("error", "CHAIN_UNAVAILABLE")
    assert check(report, "not_revoked") == ("error", "CHAIN_UNAVAILABLE")
    assert check(report, "signature") == ("valid", "SIGNATURE_VALID")
    assert w.chain.calls == 1  # the failure is remembered, not retried per check
    assert report.anchor is None


def test_chain_unreachable_with_a_compromised_key() -> None:
    w = world(key=trusted(ES256_SIGNER, status="compromised", compromised_at=NOW))
    w.chain.down = True
    report = w.verify()
    assert report.verdict is Verdict.ERROR
    assert check(report, "key_valid_at_signing") == ("error", "CHAIN_UNAVAILABLE")


def test_proof_source_failure_is_error() -> None:
    def failing(_: bytes) -> Proof | None:
        raise TimeoutError("database")

    report = world().verify(proof_source=failing)
    assert report.verdict is Verdict.ERROR
    assert check(report, "anchored") == ("error", "PROOF_UNAVAILABLE")


def test_kid_in_report_is_the_trusted_full_kid() -> None:
    report = world().verify()
    c = next(c for c in report.checks if c.name == "issuer_trusted")
    assert c.data["kid"] == ES256_SIGNER.kid
    assert base64.urlsafe_b64decode(c.data["kid"] + "=")[:8] == world().receipt.kid
