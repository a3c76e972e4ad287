"""The document verification pipeline: small named checks over one context, run by ``run_checks`` into a report.

Order and meaning (codes are stable; docs/qr-payload.md lists them):

``format`` the payload decodes; ``issuer_trusted`` the trust list has the signing key with role ``documents``;
``key_valid_at_signing`` the key was in its validity window when the receipt was issued (a compromised key only if
the document was anchored before the compromise); ``signature`` verifies with the trusted key's algorithm;
``metadata_matches`` the metadata given beside the receipt (a bundle's, the issuer's store) hashes to the signed digest
(``verifier.metadata``; skipped when there is none, as for a bare QR code);
``anchored`` the Merkle path leads from the receipt's commitment to a root the issuer's own account anchored;
``not_revoked`` the registry reports neither revocation nor supersession (a superseded document's report follows
the chain of replacements to the newest one, ``verifier.supersession``); ``signer_authority`` the signer held the
office or a delegation covering it on the signing date, by the agency's register as anchored before the document
(``verifier.signer_authority``; skipped when the agency keeps none); ``file_matches`` the given file is the
signed one.

The chain is read at most once per verification (memoised in the context); if it cannot be read, every check that
needs it is ``error`` and so is the verdict: never ``valid`` without a fresh revocation state.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from keys.encoding import b64url_decode, b64url_encode
from keys.errors import XacthucError
from keys.protocols import KeyResolver, RefreshableResolver, TrustedKey
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof, RevocationReason, proof_root
from ledger.documents.receipt import ALLOWED_ALGS, Receipt, Registry, commitment, decode_payload, verify_signature
from ledger.errors import ChainUnavailable

from .errors import ProofUnavailable
from .metadata import MetadataLookup, MetadataMatchesCheck, document_claims
from .payload import PayloadKind, parse_payload
from .pdf import PdfStamp, stamped_file_check
from .report import Check, CheckResult, Report, Verdict, invalid, run_checks, valid
from .signer_authority import RegisterLookup, SignerAuthorityCheck
from .supersession import LinkLookup, describe, follow_supersessions

__all__ = ["DOCUMENT_CHECKS", "DocumentContext", "KeyDirectory", "verify_document"]

DOCUMENTS_ROLE = "documents"
CLOCK_SKEW = timedelta(minutes=5)
_REASON_NAMES = {r.value: r.name.lower() for r in RevocationReason}


@runtime_checkable
class KeyDirectory(Protocol):
    """A resolver that can also list an issuer's keys: needed to resolve the 8-byte short kid of a payload."""

    def keys_for(self, issuer_id: str) -> Iterable[TrustedKey]: ...


def _b64url(raw: bytes) -> str:
    return b64url_encode(raw)


def _kid_raw(kid: str) -> bytes | None:
    try:
        return b64url_decode(kid)
    except ValueError:
        return None


@dataclass
class DocumentContext:
    """Inputs and what earlier checks learned; chain and proof reads are memoised here."""

    source: Receipt | str
    resolver: KeyResolver
    proof_source: Callable[[bytes], Proof | None]
    chain: ChainStatusReader
    file_bytes: bytes | None
    now: datetime
    registry: Registry | None = None
    replacement_lookup: Callable[[bytes], Mapping[str, Any] | None] | None = None
    links: LinkLookup | None = None  # describes a replacement by its leaf, to follow a chain of supersessions
    replacement_hint: Callable[[], str | None] | None = None  # the direct replacement's id, as a service names it
    metadata: Mapping[str, Any] | None = None  # presented beside the receipt (a proof bundle's)
    file_sha256: bytes | None = None  # the file's hash when only that was sent (the file stayed on the client)
    pdf_stamp: PdfStamp | None = None  # the file is a stamped PDF: its original range is the signed file
    metadata_lookup: MetadataLookup | None = None  # the issuer's store
    offices: RegisterLookup | None = None  # agencies' registers of offices (verifier.signer_authority)
    proof_presented: bool = False  # the proof came with the request: its tx hash and block are unchecked claims
    receipt: Receipt | None = None
    key: TrustedKey | None = None
    verified_by: str | None = None  # the kid whose signature check already passed while choosing among keys
    signature_ok: bool = False
    anchored: bool | None = None  # None: not decided; False: failed for a reason other than the chain being down
    anchor: dict[str, Any] | None = None
    document_metadata: dict[str, str | None] | None = None  # set once it matched the signed digest
    _leaf: bytes | None = None
    _proof: tuple[Proof | None] | None = None
    _status: DocumentChainStatus | None = None
    _chain_error: ChainUnavailable | None = field(default=None, repr=False)

    def leaf(self) -> bytes:
        assert self.receipt is not None
        if self._leaf is None:
            self._leaf = commitment(self.receipt)
        return self._leaf

    def proof(self) -> Proof | None:
        if self._proof is None:
            try:
                self._proof = (self.proof_source(self.leaf()),)
            except Exception as exc:
                raise ProofUnavailable(f"the proof could not be looked up ({type(exc).__name__})") from exc
        return self._proof[0]

    def chain_status(self, proof: Proof) -> DocumentChainStatus:
        """The registry's state of the document under the root as the issuer's own account anchored it: another
        account's anchor of the same root (a front-runner's) is not the issuer's, and reads as not anchored."""
        if self._chain_error is not None:
            raise self._chain_error
        if self.key is None or self.key.eth_address is None:
            return DocumentChainStatus(anchorer=None, anchored_at=None)
        if self._status is None:
            try:
                self._status = self.chain.status(self.key.eth_address, proof.root, proof.leaf)
            except Exception as exc:
                self._chain_error = ChainUnavailable(f"the registry could not be read ({type(exc).__name__})")
                raise self._chain_error from exc
        return self._status


class FormatCheck:
    name = "format"

    def applies(self, ctx: DocumentContext) -> bool:
        return True

    def verify(self, ctx: DocumentContext) -> CheckResult:
        if isinstance(ctx.source, Receipt):
            ctx.receipt = ctx.source
        else:
            try:
                parsed = parse_payload(ctx.source)
                if parsed.kind is not PayloadKind.DOCUMENT:
                    return invalid(self.name, "PAYLOAD_KIND_MISMATCH", f"this is a {parsed.kind.value} payload")
                ctx.receipt = decode_payload(parsed.payload, registry=ctx.registry)
            except XacthucError as exc:
                return invalid(self.name, exc.code, exc.message)
        return valid(self.name, "FORMAT_OK", "the receipt is well formed", version=ctx.receipt.version)


class IssuerTrustedCheck:
    name = "issuer_trusted"

    def applies(self, ctx: DocumentContext) -> bool:
        return ctx.receipt is not None

    def _candidates(self, ctx: DocumentContext, r: Receipt) -> list[TrustedKey] | None:
        if len(r.kid) == 32:
            key = ctx.resolver.resolve(r.issuer_id, _b64url(r.kid))
            return [key] if key is not None else []
        # What isinstance(resolver, KeyDirectory) checks, without typing's runtime protocol machinery (on Python 3.11
        # it cost a verification about 10 µs, on every request)
        keys_for: Callable[[str], Iterable[TrustedKey]] | None = getattr(ctx.resolver, "keys_for", None)
        if keys_for is None:
            return None
        return [k for k in keys_for(r.issuer_id) if (_kid_raw(k.kid) or b"")[: len(r.kid)] == r.kid]

    def verify(self, ctx: DocumentContext) -> CheckResult:
        r = ctx.receipt
        assert r is not None
        candidates = self._candidates(ctx, r)
        if candidates == [] and isinstance(ctx.resolver, RefreshableResolver) and ctx.resolver.refresh(r.issuer_id):
            candidates = self._candidates(ctx, r)  # a key rotated in after the list was fetched: look once more
        if candidates is None:
            raise _LookupUnsupported()
        candidates = [k for k in candidates if k.issuer_id == r.issuer_id]
        if not candidates:
            return invalid(
                self.name, "KEY_UNKNOWN", "the trust list has no such key for this issuer", Verdict.UNTRUSTED
            )
        # An 8-byte kid prefix is unique among an issuer's keys in practice; if not, the key that verifies wins
        # (and the signature check need not verify it twice).
        key = candidates[0]
        if len(candidates) > 1:
            chosen = next((k for k in candidates if verify_signature(r, k.alg, k.jwk)), None)
            if chosen is not None:
                key, ctx.verified_by = chosen, chosen.kid
        if DOCUMENTS_ROLE not in key.roles:
            return invalid(self.name, "KEY_ROLE_MISSING", "the key may not sign documents", Verdict.UNTRUSTED)
        ctx.key = key
        return valid(self.name, "ISSUER_TRUSTED", f"issued by {key.issuer_name}", kid=key.kid)


class _LookupUnsupported(XacthucError):
    """The key resolver cannot list an issuer's keys, so a short key id cannot be resolved."""

    code = "KEY_LOOKUP_UNSUPPORTED"


class KeyValidAtSigningCheck:
    name = "key_valid_at_signing"

    def applies(self, ctx: DocumentContext) -> bool:
        return ctx.key is not None

    def verify(self, ctx: DocumentContext) -> CheckResult:
        r, key = ctx.receipt, ctx.key
        assert r is not None and key is not None
        at = r.issued_at
        if at > ctx.now + CLOCK_SKEW:
            return invalid(self.name, "ISSUED_IN_FUTURE", "the receipt is dated in the future")
        if at < key.not_before or (key.not_after is not None and at >= key.not_after):
            return invalid(self.name, "KEY_NOT_VALID_AT_SIGNING", "the key was not valid when the receipt was issued")
        if key.status == "compromised":
            # Signatures made before a compromise stay good only if the chain dates them before it.
            proof = ctx.proof()
            status = ctx.chain_status(proof) if proof is not None else None
            anchored_at = status.anchored_at if status is not None else None
            if key.compromised_at is None or anchored_at is None or anchored_at >= key.compromised_at:
                return invalid(self.name, "KEY_COMPROMISED", "the key was compromised before the document was anchored")
        elif key.status not in ("active", "retired"):
            return invalid(self.name, "KEY_STATUS_UNKNOWN", f"the key has an unknown status {key.status!r}")
        return valid(self.name, "KEY_VALID", "the key was valid when the receipt was issued")


class SignatureCheck:
    name = "signature"

    def applies(self, ctx: DocumentContext) -> bool:
        return ctx.key is not None

    def verify(self, ctx: DocumentContext) -> CheckResult:
        r, key = ctx.receipt, ctx.key
        assert r is not None and key is not None
        if key.alg not in ALLOWED_ALGS:
            return invalid(self.name, "ALG_NOT_ALLOWED", f"algorithm {key.alg!r} is not accepted for receipts")
        if ctx.verified_by != key.kid and not verify_signature(r, key.alg, key.jwk):
            return invalid(self.name, "SIGNATURE_INVALID", "the signature does not verify")
        ctx.signature_ok = True
        return valid(self.name, "SIGNATURE_VALID", f"{key.alg} signature verified")


class AnchoredCheck:
    name = "anchored"

    def applies(self, ctx: DocumentContext) -> bool:
        return ctx.signature_ok

    def verify(self, ctx: DocumentContext) -> CheckResult:
        r, key = ctx.receipt, ctx.key
        assert r is not None and key is not None
        ctx.anchored = False
        proof = ctx.proof()
        if proof is None:
            return invalid(self.name, "DOC_NOT_ANCHORED", "the document is not anchored yet", Verdict.PENDING)
        if proof.leaf != ctx.leaf():
            return invalid(self.name, "PROOF_LEAF_MISMATCH", "the proof is for another document")
        if proof.chain_id != r.registry.chain_id or proof.contract.lower() != r.registry.hex_address:
            return invalid(self.name, "PROOF_REGISTRY_MISMATCH", "the proof is from another registry than signed")
        try:
            root = proof_root(proof)
        except XacthucError:
            root = b""
        if root != proof.root:
            return invalid(self.name, "MERKLE_PATH_INVALID", "the Merkle path does not lead to the root")
        if key.eth_address is None:
            return invalid(
                self.name, "ISSUER_ACCOUNT_UNKNOWN", "the trust list has no account for the issuer", Verdict.UNTRUSTED
            )
        ctx.anchored = None  # from here on, a failure to read the chain is the chain's fault
        status = ctx.chain_status(proof)
        ctx.anchored = False
        if status.anchorer is None or status.anchored_at is None:
            return invalid(
                self.name, "ROOT_NOT_ON_CHAIN", "the issuer's account has not anchored this root yet", Verdict.PENDING
            )
        if status.anchorer.lower() != key.eth_address.lower():  # a reader that answered for another account
            return invalid(self.name, "ANCHORER_MISMATCH", "the root was anchored by another account than the issuer's")
        ctx.anchored = True
        when = status.anchored_at.isoformat().replace("+00:00", "Z")
        root_hex = "0x" + proof.root.hex()
        if ctx.proof_presented:
            # The registry vouches for the root, the issuer's account and the time; a presented proof's transaction
            # hash and block are not read back from the chain, so they are not shown as verified.
            ctx.anchor = {"chain_id": proof.chain_id, "contract": proof.contract, "time": when}
            return valid(self.name, "ANCHORED", f"anchored by the issuer's account at {when}", root=root_hex)
        ctx.anchor = {
            "chain_id": proof.chain_id,
            "contract": proof.contract,
            "tx": proof.tx_hash,
            "block": proof.block,
            "time": when,
        }
        return valid(self.name, "ANCHORED", f"anchored in block {proof.block}", root=root_hex)


class NotRevokedCheck:
    name = "not_revoked"

    def applies(self, ctx: DocumentContext) -> bool:
        # Also runs when the chain was unreachable, so the report shows this check as ``error`` too.
        return ctx.anchored is True or (ctx.anchored is None and ctx._chain_error is not None)

    def verify(self, ctx: DocumentContext) -> CheckResult:
        proof = ctx.proof()
        assert proof is not None
        status = ctx.chain_status(proof)
        if status.reason == RevocationReason.NONE:
            return valid(self.name, "NOT_REVOKED", "the document is in force")
        when = status.revoked_at.isoformat().replace("+00:00", "Z") if status.revoked_at else None
        if status.reason == RevocationReason.REPLACED:
            return _superseded(self.name, ctx, status.replaced_by, when)
        reason = _REASON_NAMES.get(status.reason, "unknown")
        return invalid(
            self.name,
            "DOC_REVOKED",
            f"the document was revoked ({reason})",
            Verdict.REVOKED,
            reason=reason,
            revoked_at=when,
        )


def _hint(ctx: DocumentContext) -> str | None:
    if ctx.replacement_hint is None:
        return None
    try:
        return ctx.replacement_hint()
    except Exception:
        return None  # only a hint to find the replacement; the verdict stands without it


def _superseded(name: str, ctx: DocumentContext, replaced_by: bytes | None, when: str | None) -> CheckResult:
    """``DOC_SUPERSEDED``, naming the newest replacement and listing the chain (``supersession_chain``)."""
    data: dict[str, Any] = {"revoked_at": when}
    if replaced_by is None:  # a registry from before replacements were required
        return invalid(name, "DOC_SUPERSEDED", "the document was replaced", Verdict.SUPERSEDED, **data)
    assert ctx.receipt is not None
    walk = follow_supersessions(
        replaced_by,
        origin=ctx.leaf(),
        registry=ctx.receipt.registry,
        chain=ctx.chain,
        resolver=ctx.resolver,
        links=ctx.links,
        names=ctx.replacement_lookup,
        hint=_hint(ctx),
    )
    data["replaced_by"] = "0x" + replaced_by.hex()
    newest = walk.newest
    if newest is not None and (newest["document_id"] or newest["number"]):
        data["replacement"] = {"document_id": newest["document_id"], "number": newest["number"]}
    data["supersession_chain"] = walk.links
    if walk.loop:
        data["supersession_loop"] = True
    if walk.truncated:
        data["supersession_truncated"] = True
    if newest is None:  # the registry names the document itself as its replacement
        return invalid(name, "DOC_SUPERSEDED", "the document was replaced", Verdict.SUPERSEDED, **data)
    message = "the document was replaced by " + " → ".join(describe(e) for e in walk.links)
    if walk.truncated:
        message += " → …"
    if newest["status"] == "revoked":
        message += f" (itself revoked: {newest.get('reason', 'unknown')})"
    return invalid(name, "DOC_SUPERSEDED", message, Verdict.SUPERSEDED, **data)


class FileMatchesCheck:
    name = "file_matches"

    def applies(self, ctx: DocumentContext) -> bool:
        return (ctx.file_bytes is not None or ctx.file_sha256 is not None) and ctx.receipt is not None

    def verify(self, ctx: DocumentContext) -> CheckResult:
        assert ctx.receipt is not None
        if ctx.pdf_stamp is not None:
            signed = ctx.receipt.file_sha256
            return stamped_file_check(self.name, signed, ctx.pdf_stamp, ctx.file_bytes, ctx.file_sha256)
        digest = hashlib.sha256(ctx.file_bytes).digest() if ctx.file_bytes is not None else ctx.file_sha256
        assert digest is not None
        if not hmac.compare_digest(digest, ctx.receipt.file_sha256):
            return invalid(self.name, "FILE_MISMATCH", "the file is not the signed document", sha256=digest.hex())
        return valid(self.name, "FILE_MATCHES", "the file is the signed document")


DOCUMENT_CHECKS: tuple[Check[DocumentContext], ...] = (
    FormatCheck(),
    IssuerTrustedCheck(),
    KeyValidAtSigningCheck(),
    SignatureCheck(),
    MetadataMatchesCheck(),
    AnchoredCheck(),
    NotRevokedCheck(),
    SignerAuthorityCheck(),
    FileMatchesCheck(),
)


def verify_document(
    receipt_or_payload: Receipt | str,
    *,
    resolver: KeyResolver,
    proof_source: Callable[[bytes], Proof | None],
    chain: ChainStatusReader,
    now: datetime,
    file_bytes: bytes | None = None,
    registry: Registry | None = None,
    replacement_lookup: Callable[[bytes], Mapping[str, Any] | None] | None = None,
    links: LinkLookup | None = None,
    replacement_hint: Callable[[], str | None] | None = None,
    metadata: Mapping[str, Any] | None = None,
    metadata_lookup: MetadataLookup | None = None,
    offices: RegisterLookup | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
    file_sha256: bytes | None = None,
    pdf_stamp: PdfStamp | None = None,
    proof_presented: bool = False,
) -> Report:
    """Verify a document receipt (or its payload / verification link) and report every check and the verdict.

    ``proof_source`` maps the receipt's commitment to its proof (None: not anchored yet); ``chain`` reads the
    registry; ``registry`` is the verifier's configured registry (fills in payloads that omit it);
    ``replacement_lookup`` maps a replacement's leaf data to e.g. ``{"number", "document_id"}``; ``links`` describes
    a replacement (``verifier.sources.Supersessions``) so a chain of supersessions is followed to the newest one,
    ``replacement_hint`` names the direct replacement's id when a service said it; ``metadata`` (a
    bundle's) and ``metadata_lookup`` (the issuer's store, by leaf data) give the metadata that ``metadata_matches``
    checks against the signed digest: only matched fields join the report's claims. ``file_sha256`` stands in for
    ``file_bytes`` when only the file's hash was sent (``file_matches`` compares it the same way); ``pdf_stamp``
    says the file is a stamped PDF (``verifier.pdf``), whose original range ``file_matches`` compares.
    ``proof_presented`` says the proof came with the request (a bundle, a service's answer), not from a store this
    verifier trusts: its transaction hash and block are then claims nobody checked, and the report leaves them out.
    """
    ctx = DocumentContext(
        source=receipt_or_payload,
        resolver=resolver,
        proof_source=proof_source,
        chain=chain,
        file_bytes=file_bytes,
        now=now,
        registry=registry,
        replacement_lookup=replacement_lookup,
        links=links,
        replacement_hint=replacement_hint,
        metadata=metadata,
        metadata_lookup=metadata_lookup,
        offices=offices,
        file_sha256=file_sha256,
        pdf_stamp=pdf_stamp,
        proof_presented=proof_presented,
    )
    checks = run_checks(DOCUMENT_CHECKS, ctx, on_error)
    report = Report(kind="document", checks=checks)
    if ctx.key is not None and ctx.signature_ok and ctx.receipt is not None:
        report.issuer = {"id": ctx.key.issuer_id, "name": ctx.key.issuer_name}
        report.claims = document_claims(ctx.receipt, ctx.document_metadata)
        report.anchor = ctx.anchor
    return report
