"""The ``signer_authority`` check: did the person in the signature block hold the office, or a delegation covering
it, on the signing date, by the issuing agency's register of offices as it stood when the document was anchored?

The register's entries (``ledger.offices.entries``) come from a source: the issuing server's database, the
root-signed offline bundle, or the proof bundle itself (``signer_authority.entries``, each token with its proof).
None of it is taken on trust: each entry's signature is checked with the agency's key from the trust list (a key of
that agency, with the ``documents`` role, valid when it signed), its Merkle path recomputed, and its anchor read
from the chain under the agency's own account, like a document's. An entry counts only if the chain dates its
anchor strictly before the document's (``ledger.offices.rules.anchored_before``); entries must run from 1 without a
gap (each names the one before), so an entry left out of the middle of a presented register is noticed.

Outcomes: ``valid`` with the office or delegation and its source (the entry and its anchor); ``invalid`` (verdict
invalid) under the refusal's code when the register anchored before the document does not cover the signature
block; ``skipped`` ``REGISTER_NOT_KEPT`` when no entry of the agency was anchored before the document (it kept no
register then), ``REGISTER_UNAVAILABLE`` when the verifier has no source of registers, ``METADATA_UNAVAILABLE``
when the signature block is not known (a bare QR code names no signer); ``invalid`` ``REGISTER_INCOMPLETE`` for a
register presented with an entry left out; ``error`` ``CHAIN_UNAVAILABLE`` when the chain cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from keys.errors import XacthucError
from keys.jws import verify_jws
from keys.limits import REGISTER_ENTRIES
from keys.protocols import KeyResolver, TrustedKey
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof, proof_root
from ledger.documents.receipt import ALLOWED_ALGS, Receipt
from ledger.errors import ChainUnavailable
from ledger.offices.entries import Entry, read_entry
from ledger.offices.errors import OfficeFieldInvalid
from ledger.offices.register import signature_of
from ledger.offices.rules import anchored_before, decide, fold

from ._offline_format import OfflineBundleError
from .bundle import BundleInvalid
from .report import CheckResult, invalid, skipped, valid

__all__ = [
    "BUNDLE_KEY",
    "CHECK_NAME",
    "OfficeRegisters",
    "RegisterItem",
    "SignerAuthorityCheck",
    "bundle_register",
    "offline_registers",
]

CHECK_NAME = "signer_authority"
BUNDLE_KEY = "signer_authority"  # the proof bundle's section: {"agency_id", "entries": [{"token", "proof"}]}
MAX_ENTRIES = REGISTER_ENTRIES
RegisterItem = tuple[str, Proof | None]
_ALGS = tuple(sorted(ALLOWED_ALGS))
RegisterLookup = Callable[[str], Sequence[RegisterItem] | None]


@runtime_checkable
class OfficeRegisters(Protocol):
    """A source that knows agencies' registers: each entry token with its anchor proof (None while it waits); None
    when the source keeps no register for the agency."""

    def register_for(self, issuer_id: str) -> Sequence[RegisterItem] | None: ...


def bundle_register(bundle: Mapping[str, Any]) -> list[RegisterItem] | None:
    """The register a proof bundle carries (None if it carries none): only presented, every entry is checked."""
    raw = bundle.get(BUNDLE_KEY)
    if raw is None:
        return None
    entries = raw.get("entries") if isinstance(raw, Mapping) else None
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise BundleInvalid(f"{BUNDLE_KEY}.entries must be a list of at most {MAX_ENTRIES} entries")
    out: list[RegisterItem] = []
    for item in entries:
        if not isinstance(item, Mapping) or not isinstance(item.get("token"), str):
            raise BundleInvalid(f"{BUNDLE_KEY}.entries: each entry needs its token")
        proof = item.get("proof")
        if proof is not None and not isinstance(proof, Mapping):
            raise BundleInvalid(f"{BUNDLE_KEY}.entries: a proof must be an object")
        out.append((item["token"], None if proof is None else Proof.from_dict(proof)))
    return out


class _Context(Protocol):
    """What the check reads of ``verifier.document.DocumentContext``."""

    receipt: Receipt | None
    resolver: KeyResolver
    chain: ChainStatusReader
    key: TrustedKey | None
    signature_ok: bool
    anchored: bool | None
    document_metadata: dict[str, str | None] | None
    offices: RegisterLookup | None

    def proof(self) -> Proof | None: ...
    def chain_status(self, proof: Proof) -> DocumentChainStatus: ...


@dataclass(frozen=True)
class _Counted:
    entry: Entry
    proof: Proof | None
    anchored_at: datetime | None

    @property
    def block(self) -> int | None:
        return None if self.proof is None else self.proof.block


class SignerAuthorityCheck:
    name = CHECK_NAME

    def applies(self, ctx: _Context) -> bool:
        return ctx.signature_ok and ctx.receipt is not None and ctx.key is not None

    def verify(self, ctx: _Context) -> CheckResult:
        receipt, key = ctx.receipt, ctx.key
        assert receipt is not None and key is not None
        if ctx.offices is None:
            return skipped(
                self.name,
                "REGISTER_UNAVAILABLE",
                "this verifier has no register of offices to check the signer against",
                warning="the signer's authority was not checked",
            )
        if ctx.document_metadata is None:
            return skipped(self.name, "METADATA_UNAVAILABLE", "the signature block is not known (no metadata matched)")
        items = ctx.offices(receipt.issuer_id) or []
        entries, ignored = _verified_entries(ctx, receipt.issuer_id, items)
        if not entries:
            return skipped(self.name, "REGISTER_NOT_KEPT", "the agency keeps no register of offices")
        gap = _gap(entries)
        if gap is not None:
            return invalid(self.name, "REGISTER_INCOMPLETE", gap)
        document_at, document_block = _document_anchor(ctx)
        reads: dict[bytes, DocumentChainStatus] = {}  # by root: the anchor time is the root's
        counted = [_anchor_of(ctx, key, receipt, e, p, reads) for e, p in entries]
        before = [c for c in counted if anchored_before(c.anchored_at, document_at, c.block, document_block)]
        register = {"entries": len(entries), "counted": len(before), "head": "0x" + entries[-1][0].leaf.hex()}
        if ignored:
            register["ignored"] = ignored
        if not before:
            return skipped(
                self.name,
                "REGISTER_NOT_KEPT",
                "no entry of the agency's register was anchored before this document",
                register=register,
            )
        decision = decide(fold(c.entry.body for c in before), signature_of(ctx.document_metadata))
        if not decision.covered:
            assert decision.code is not None
            return invalid(self.name, decision.code, decision.message, register=register, **decision.data)
        source = next(c for c in before if c.entry.seq == decision.entry)
        data: dict[str, Any] = {"entry": decision.entry, "source": _source(source), "register": register}
        if decision.office is not None:
            data["office"] = decision.office.to_dict()
            code = "SIGNER_IN_OFFICE"
        else:
            assert decision.delegation is not None
            data["delegation"] = decision.delegation.to_dict()
            code = "SIGNER_DELEGATED"
        message = f"{decision.message}; register entry {decision.entry}, anchored in block {source.proof.block}"  # type: ignore[union-attr]
        return valid(self.name, code, message, **data)


def _verified_entries(
    ctx: _Context, issuer_id: str, items: Sequence[RegisterItem]
) -> tuple[list[tuple[Entry, Proof | None]], int]:
    """The entries whose signature is the agency's (its key, role ``documents``, valid when it signed), in ``seq``
    order; and how many were ignored (malformed, another issuer's, unknown or wrong key)."""
    good: list[tuple[Entry, Proof | None]] = []
    ignored = 0
    for token, proof in items[:MAX_ENTRIES]:
        try:
            entry = read_entry(token)
        except OfficeFieldInvalid:
            ignored += 1
            continue
        key = ctx.resolver.resolve(issuer_id, entry.kid) if entry.issuer == issuer_id else None
        if key is None or key.issuer_id != issuer_id or "documents" not in key.roles or not _signed_by(token, key):
            ignored += 1
            continue
        at = entry.issued_at
        if at < key.not_before or (key.not_after is not None and at >= key.not_after):
            ignored += 1
            continue
        if key.status == "compromised" and key.compromised_at is not None and at >= key.compromised_at:
            ignored += 1
            continue
        good.append((entry, proof))
    good.sort(key=lambda e: e[0].seq)
    return good, ignored


def _signed_by(token: str, key: TrustedKey) -> bool:
    try:
        verify_jws(token, key, _ALGS)
    except XacthucError:
        return False
    return True


def _gap(entries: list[tuple[Entry, Proof | None]]) -> str | None:
    """Why the entries are not the register from its first entry on, each naming the one before (None: they are)."""
    previous: Entry | None = None
    for i, (entry, _) in enumerate(entries, start=1):
        if entry.seq != i:
            return f"the register is incomplete: entry {i} is missing (found {entry.seq})"
        if (previous is None) != (entry.prev is None) or (previous is not None and entry.prev != previous.leaf):
            return f"the register is incomplete: entry {entry.seq} does not follow entry {i - 1}"
        previous = entry
    return None


def _document_anchor(ctx: _Context) -> tuple[datetime | None, int | None]:
    """When the chain anchored the document, and in which block (None: not anchored yet, so every anchored entry
    comes before it)."""
    if ctx.anchored is not True:
        return None, None
    proof = ctx.proof()
    assert proof is not None
    return ctx.chain_status(proof).anchored_at, proof.block


def _anchor_of(
    ctx: _Context,
    key: TrustedKey,
    receipt: Receipt,
    entry: Entry,
    proof: Proof | None,
    reads: dict[bytes, DocumentChainStatus],
) -> _Counted:
    """The entry's anchor time as the chain has it under the agency's own account (None: not anchored, or a proof
    that does not hold)."""
    if proof is None or key.eth_address is None or proof.leaf != entry.leaf:
        return _Counted(entry, proof, None)
    if proof.chain_id != receipt.registry.chain_id or proof.contract.lower() != receipt.registry.hex_address:
        return _Counted(entry, proof, None)
    try:
        if proof_root(proof) != proof.root:
            return _Counted(entry, proof, None)
    except XacthucError:
        return _Counted(entry, proof, None)
    status = reads.get(proof.root)
    if status is None:
        try:
            status = reads[proof.root] = ctx.chain.status(key.eth_address, proof.root, proof.leaf)
        except XacthucError:
            raise
        except Exception as exc:
            raise ChainUnavailable(f"the registry could not be read ({type(exc).__name__})") from exc
    if status.anchorer is None or status.anchorer.lower() != key.eth_address.lower():
        return _Counted(entry, proof, None)
    return _Counted(entry, proof, status.anchored_at)


def _source(counted: _Counted) -> dict[str, Any]:
    proof = counted.proof
    assert proof is not None and counted.anchored_at is not None
    return {
        "seq": counted.entry.seq,
        "kind": counted.entry.body["kind"],
        "leaf": "0x" + counted.entry.leaf.hex(),
        "anchor": {
            "tx": proof.tx_hash,
            "block": proof.block,
            "time": counted.anchored_at.isoformat().replace("+00:00", "Z"),
        },
    }


def offline_registers(raw: Any) -> dict[str, tuple[str, ...]]:
    """The offline bundle's ``registry.offices`` (agency id to its entry tokens), shape checked; every entry is still
    checked by the pipeline like any other."""
    if raw is None:
        return {}
    ok = isinstance(raw, dict) and all(
        isinstance(k, str) and isinstance(v, list) and len(v) <= MAX_ENTRIES and all(isinstance(t, str) for t in v)
        for k, v in raw.items()
    )
    if not ok:
        raise OfflineBundleError("registry.offices must map agency ids to lists of register entries")
    return {k: tuple(v) for k, v in raw.items()}
