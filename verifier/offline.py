"""Offline verification: a bundle, signed by the city root key, that lets a verifier with no network decide.

The bundle is a compact JWS (ES256, header ``typ: xacthuc-offline-bundle+jwt``, ``application/jwt``) whose payload
is::

    {"v": 1, "iat": 1767225600, "exp": 1767312000,
     "trust_list": "<the signed trust list JWS, as is>",
     "status_lists": {"<uri>": "<status list JWT signed by its issuer, as is>", ...},
     "registry": {"chain_id": 31337, "contract": "0x...", "block": 1234,
                  "roots": [{"root": "<hex>", "anchorer": "0x...", "anchored_at": 1767225000, "block": 1200,
                             "tx": "0x...", "leaves": "<hex of the leaf hashes, 64 characters each>"}],
                  "revoked": [{"agency": "0x...", "root": "<hex>", "data": "<hex>", "reason": 1,
                               "revoked_at": 1767225300, "replaced_by": "<hex>" | null,
                               "replacement": {"number", "document_id"} | null}],
                  "offices": {"<agency id>": ["<register entry token>", ...]}}}

``registry.offices`` (only when some agency keeps a register) carries each agency's register of offices
(``ledger.offices``) for the ``signer_authority`` check; its entries' proofs are rebuilt from the roots' leaves.

Like the registry, the bundle keys anchors by agency (``anchorer``) and root, and revocations by agency, root and
data: a root answers only for the account that anchored it (the issuer's ``eth_address`` in the trust list).

A large ``registry`` (hex leaves, more than 4 KiB of JSON) travels as ``registry_z``: base64url of its zlib
compressed JSON (read back with a hard limit). ``exp`` is ``iat`` + the TTL, capped by the embedded trust list's
expiry. ``verify_offline_bundle`` checks the signature against the *pinned* root, the expiry and the embedded trust
list, and returns an :class:`OfflineState` that stands in for the chain (``status(agency, root, data)``), the proof
store (``proof_for(leaf)``, from the roots' leaves) and the status list fetcher, so ``verify_document`` and
``verify_credential`` run unchanged. Never ``valid`` without a fresh revocation state: an expired bundle is refused.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from keys.encoding import b64url_encode
from keys.errors import InvalidInput, JwsSignatureInvalid, SignatureError, TrustListError
from keys.jwk import checked_public_jwk
from keys.jws import decode_unverified, sign_jws, verify_jws
from keys.limits import JWS_CHARS
from keys.protocols import Signer
from keys.trust_list import TrustList, verify_trust_list
from keys.validity import epoch, utc
from ledger.chain.merkle import leaf_hash
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof
from ledger.documents.receipt import Registry
from ledger.offices.entries import entry_leaf

from ._offline_format import (
    AnchoredRoot,
    OfflineBundleError,
    OfflineBundleExpired,
    OfflineBundleSignatureInvalid,
    OfflineBundleTooLarge,
    OfflineBundleTrustListInvalid,
    OfflineBundleUntrusted,
    OfflineRegistryUnavailable,
    OfflineStatusListMissing,
    Revocation,
    parse_revocation,
    parse_root,
    registry_section,
    req_int,
    req_str,
    req_time,
    tree_levels,
)
from .payload import ParsedPayload, PayloadKind
from .report import Report, Status
from .service import DEFAULT_FRESHNESS, Verifier
from .signer_authority import offline_registers
from .sources import Link

__all__ = [
    "DEFAULT_TTL",
    "TYP",
    "AnchoredRoot",
    "OfflineBundleError",
    "OfflineBundleExpired",
    "OfflineBundleSignatureInvalid",
    "OfflineBundleTooLarge",
    "OfflineBundleTrustListInvalid",
    "OfflineBundleUntrusted",
    "OfflineRegistryUnavailable",
    "OfflineState",
    "OfflineStatusListMissing",
    "Revocation",
    "annotate",
    "is_offline_bundle",
    "offline_bundle_payload",
    "offline_verifier",
    "sign_offline_bundle",
    "verify_bundle_offline",
    "verify_offline",
    "verify_offline_bundle",
]

TYP = "xacthuc-offline-bundle+jwt"
VERSION = 1
DEFAULT_TTL = timedelta(hours=24)
MAX_CLOCK_SKEW = timedelta(minutes=5)
COMPRESS_OVER = 4096  # bytes of registry JSON
MAX_TOKEN = JWS_CHARS  # keys.jws refuses longer tokens: never publish a bundle nobody can verify


# ---------------------------------------------------------------------------------------------------------- producing
def _b64u(raw: bytes) -> str:
    return b64url_encode(raw)


def _registry_json(
    registry: Registry, block: int, roots: list[AnchoredRoot], revocations: list[Revocation]
) -> dict[str, Any]:
    return {
        "chain_id": registry.chain_id,
        "contract": registry.hex_address,
        "block": block,
        "roots": [
            {
                "root": r.root.hex(),
                "anchorer": r.anchorer,
                "anchored_at": epoch(r.anchored_at),
                "block": r.block,
                "tx": r.tx_hash,
                "leaves": b"".join(r.leaves).hex(),
            }
            for r in roots
        ],
        "revoked": [
            {
                "agency": v.agency,
                "root": v.root.hex(),
                "data": v.data.hex(),
                "reason": v.reason,
                "revoked_at": epoch(v.revoked_at),
                "replaced_by": None if v.replaced_by is None else v.replaced_by.hex(),
                "replacement": v.replacement,
            }
            for v in revocations
        ],
    }


def offline_bundle_payload(
    *,
    trust_list: str,
    status_lists: Mapping[str, str],
    registry: Registry | None,
    block: int | None,
    roots: list[AnchoredRoot],
    revocations: list[Revocation],
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    offices: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The payload the root signs. ``exp`` is ``now + ttl``, capped at the trust list's own expiry."""
    _, tl_payload = decode_unverified(trust_list)
    tl_exp = json.loads(tl_payload).get("expires_at")
    exp = epoch(now + ttl)
    if isinstance(tl_exp, int) and not isinstance(tl_exp, bool):
        exp = min(exp, tl_exp)
    payload: dict[str, Any] = {
        "v": VERSION,
        "iat": epoch(now),
        "exp": exp,
        "trust_list": trust_list,
        "status_lists": dict(status_lists),
    }
    if registry is None:
        payload["registry"] = None
        return payload
    known_block = max((r.block for r in roots), default=0)
    reg = _registry_json(registry, max(block or 0, known_block), roots, revocations)
    if offices:  # agencies' registers of offices: entry tokens, their proofs rebuilt from the roots' leaves
        reg["offices"] = {agency: list(tokens) for agency, tokens in offices.items()}
    raw = json.dumps(reg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(raw) > COMPRESS_OVER:
        payload["registry_z"] = _b64u(zlib.compress(raw, 9))
    else:
        payload["registry"] = reg
    return payload


def sign_offline_bundle(root_signer: Signer, payload: Mapping[str, Any]) -> str:
    """The bundle JWS, signed by the city root key (ES256)."""
    if root_signer.alg != "ES256":
        raise InvalidInput("the city root key is ES256")
    token = sign_jws(root_signer, payload, {"typ": TYP})
    if len(token) > MAX_TOKEN:
        raise OfflineBundleTooLarge(f"the offline bundle would be {len(token)} characters, over {MAX_TOKEN}")
    return token


def is_offline_bundle(text: str) -> bool:
    """Whether ``text`` looks like an offline bundle (a compact JWS of our ``typ``), not a JSON proof bundle."""
    text = text.strip()
    if text.startswith("{") or text.count(".") != 2:
        return False
    try:
        header, _ = decode_unverified(text)
    except SignatureError:
        return False
    return header.get("typ") == TYP


# ---------------------------------------------------------------------------------------------------------- verifying
@dataclass
class OfflineState:
    """A verified offline bundle: the trust list, and stand-ins for the chain, the proof store and status lists."""

    iat: datetime
    exp: datetime
    trust_list: TrustList
    registry: Registry | None
    block: int | None
    roots: dict[tuple[str, bytes], AnchoredRoot]  # by (anchorer, root), the address lowercase
    revocations: dict[tuple[str, bytes, bytes], Revocation]  # by (agency, root, data), the address lowercase
    status_lists: dict[str, str]
    offices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # agency id -> its register's entry tokens
    _leaf_index: dict[bytes, tuple[tuple[str, bytes], int]] | None = field(default=None, repr=False)
    _trees: dict[bytes, list[list[bytes]]] = field(default_factory=dict, repr=False)

    def require_fresh(self, now: datetime) -> None:
        """Refuse to decide anything once the bundle has expired."""
        if utc(now) >= self.exp:
            raise OfflineBundleExpired(f"the offline bundle expired at {_iso(self.exp)}; download a new one")

    def info(self) -> dict[str, Any]:
        """What a report says about where its revocation state came from."""
        out: dict[str, Any] = {"iat": _iso(self.iat), "exp": _iso(self.exp)}
        if self.registry is not None:
            out |= {"block": self.block, "chain_id": self.registry.chain_id, "contract": self.registry.hex_address}
        return out

    # -- ledger.chain.proof.ChainStatusReader
    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        """The registry's ``status(agency, root, data)`` as of the bundle: a root ``agency`` did not anchor is not
        anchored (whoever else did)."""
        if self.registry is None:
            raise OfflineRegistryUnavailable("the offline bundle carries no registry state")
        anchored = self.roots.get((agency.lower(), bytes(root)))
        if anchored is None:
            return DocumentChainStatus(anchorer=None, anchored_at=None)
        revoked = self.revocations.get((agency.lower(), bytes(root), bytes(data)))
        if revoked is None:
            return DocumentChainStatus(anchorer=anchored.anchorer, anchored_at=anchored.anchored_at)
        return DocumentChainStatus(
            anchorer=anchored.anchorer,
            anchored_at=anchored.anchored_at,
            reason=revoked.reason,
            revoked_at=revoked.revoked_at,
            replaced_by=revoked.replaced_by,
        )

    def proof_for(self, leaf: bytes) -> Proof | None:
        """The proof of the document whose commitment is ``leaf``, rebuilt from its root's leaves; None if absent
        (not anchored as of the bundle)."""
        if self.registry is None:  # no registry state: the pipeline reports PROOF_UNAVAILABLE (error), not pending
            raise OfflineRegistryUnavailable("the offline bundle carries no registry state")
        if self._leaf_index is None:
            self._leaf_index = {h: (key, i) for key, r in self.roots.items() for i, h in enumerate(r.leaves)}
        found = self._leaf_index.get(leaf_hash(leaf))
        if found is None:
            return None
        key, index = found
        anchored = self.roots[key]
        root = anchored.root
        levels = self._trees.get(root)
        if levels is None:
            levels = self._trees[root] = tree_levels(anchored.leaves)
        path = []
        for level in levels[:-1]:
            if index ^ 1 < len(level):
                path.append(level[index ^ 1])
            index >>= 1
        return Proof(
            root=root,
            path=tuple(path),
            leaf=bytes(leaf),
            chain_id=self.registry.chain_id,
            contract=self.registry.hex_address,
            tx_hash=anchored.tx_hash,
            block=anchored.block,
            anchored_at=anchored.anchored_at,
        )

    def reader_for(self, registry: Registry) -> ChainStatusReader:
        """``verifier.sources.RegistryReaders``: this state for its own registry; for another, a reader that fails."""
        return self if registry == self.registry else _OtherRegistry()

    def replacement_for(self, leaf: bytes) -> dict[str, Any] | None:
        """The number and id of a replacement named by a revocation in the bundle."""
        return next(
            (dict(v.replacement) for v in self.revocations.values() if v.replaced_by == leaf and v.replacement),
            None,
        )

    def link_for(self, leaf: bytes, document_id: str | None) -> Link | None:
        """``verifier.sources.Supersessions``: a replacement as the bundle knows it (its proof and anchoring account
        from the roots, its number and id from the revocation that names it), to follow a chain of supersessions.
        The bundle is signed by the city root, so its account is taken as the chain's would be."""
        proof = self.proof_for(leaf)
        if proof is None:
            return None
        found = self._leaf_index.get(leaf_hash(leaf)) if self._leaf_index is not None else None
        if found is None:
            return None
        names = self.replacement_for(leaf) or {}
        return Link(
            leaf,
            proof=proof,
            anchorer=found[0][0],
            document_id=names.get("document_id"),
            number=names.get("number"),
        )

    def register_for(self, issuer_id: str) -> list[tuple[str, Proof | None]] | None:
        """``verifier.signer_authority.OfficeRegisters``: the agency's register as of the bundle, each entry's proof
        rebuilt from the roots (None: not anchored as of the bundle); None when it keeps none."""
        tokens = self.offices.get(issuer_id)
        if not tokens or self.registry is None:
            return None
        return [(t, self.proof_for(entry_leaf(t))) for t in tokens]

    def fetch_status_list(self, uri: str) -> str:
        """A ``status_fetcher``: the embedded token for ``uri`` (verified by the credential pipeline)."""
        token = self.status_lists.get(uri)
        if token is None:
            raise OfflineStatusListMissing("the offline bundle holds no status list at this URI")
        return token


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _verified_claims(token: str, pinned_root_jwk: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        root = checked_public_jwk(dict(pinned_root_jwk))
    except InvalidInput as exc:
        raise OfflineBundleError(f"the pinned root key is unusable: {exc.message}") from None
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise OfflineBundleError("not an offline bundle (a compact JWS of at most 1 MiB)")
    try:
        header, _ = decode_unverified(token.strip())
    except SignatureError:
        raise OfflineBundleSignatureInvalid("the offline bundle is not an intact compact JWS") from None
    if header.get("kid") != root["kid"]:
        raise OfflineBundleUntrusted("the offline bundle is not signed by the pinned city root key")
    try:
        claims = verify_jws(token.strip(), root, ("ES256",)).claims()
    except JwsSignatureInvalid:
        raise OfflineBundleSignatureInvalid("the offline bundle's signature does not verify") from None
    except SignatureError as exc:
        raise OfflineBundleSignatureInvalid(f"the offline bundle is not an intact JWS ({exc.code})") from None
    if header.get("typ") != TYP:  # a trust list is root-signed too: never take one for a bundle
        raise OfflineBundleError("the token is not an offline bundle")
    return header, claims


def verify_offline_bundle(token: str, pinned_root_jwk: Mapping[str, Any], now: datetime) -> OfflineState:
    """Verify an offline bundle against the pinned city root key: signature, ``typ``, expiry, embedded trust list.

    Raises a typed :class:`OfflineBundleError` (never returns a state that could make an answer ``valid``) for a
    bad signature, a foreign signer, an expired bundle, or a trust list that does not verify.
    """
    _, claims = _verified_claims(token, pinned_root_jwk)
    now = utc(now)
    if claims.get("v") != VERSION:
        raise OfflineBundleError(f"unsupported offline bundle version {claims.get('v')!r}")
    iat, exp = req_time(claims, "iat", "bundle"), req_time(claims, "exp", "bundle")
    if exp <= now:
        raise OfflineBundleExpired(f"the offline bundle expired at {_iso(exp)}; download a new one")
    if iat > now + MAX_CLOCK_SKEW:
        raise OfflineBundleError("the offline bundle is issued in the future")
    try:
        trust = verify_trust_list(req_str(claims, "trust_list", "bundle"), pinned_root_jwk, now)
    except TrustListError as exc:
        raise OfflineBundleTrustListInvalid(f"the embedded trust list: {exc.code}: {exc.message}") from None
    lists = claims.get("status_lists")
    if not isinstance(lists, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in lists.items()):
        raise OfflineBundleError("status_lists must map URIs to tokens")
    section = registry_section(claims)
    registry, block = None, None
    roots: dict[tuple[str, bytes], AnchoredRoot] = {}
    revocations: dict[tuple[str, bytes, bytes], Revocation] = {}
    offices: dict[str, tuple[str, ...]] = {}
    if section is not None:
        try:
            registry = Registry.of(req_int(section, "chain_id", "registry"), req_str(section, "contract", "registry"))
        except InvalidInput as exc:
            raise OfflineBundleError(f"registry: {exc.message}") from None
        block = req_int(section, "block", "registry")
        raw_roots, raw_revoked = section.get("roots"), section.get("revoked")
        if not isinstance(raw_roots, list) or not isinstance(raw_revoked, list):
            raise OfflineBundleError("registry.roots and registry.revoked must be arrays")
        roots = {(r.anchorer, r.root): r for r in map(parse_root, raw_roots)}
        revocations = {(v.agency, v.root, v.data): v for v in map(parse_revocation, raw_revoked)}
        offices = offline_registers(section.get("offices"))
    return OfflineState(iat, exp, trust, registry, block, roots, revocations, dict(lists), offices)


# ------------------------------------------------------------------------------------------------- verifying inputs
_OFFLINE_CHECKS = frozenset({"anchored", "not_revoked", "status", "signer_authority"})


def annotate(report: Report, state: OfflineState) -> Report:
    """Mark the checks whose answer came from the bundle: ``data.offline_bundle`` = iat, exp, block, registry."""
    info = state.info()
    report.checks = [
        replace(c, data={**c.data, "offline_bundle": info})
        if c.name in _OFFLINE_CHECKS and c.status is not Status.SKIPPED
        else c
        for c in report.checks
    ]
    return report


class _OtherRegistry:
    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise OfflineRegistryUnavailable("the offline bundle holds the state of another registry")


def offline_verifier(
    state: OfflineState,
    *,
    clock: Callable[[], datetime] | None = None,
    freshness: timedelta = DEFAULT_FRESHNESS,
) -> Verifier:
    """A :class:`verifier.Verifier` whose every source is the verified offline bundle: its trust list, its registry
    state (chain and proofs), its status lists. It refuses to decide once the bundle has expired, refuses documents
    when the bundle carries no registry state, and marks the checks it answered (:func:`annotate`)."""
    now = clock or (lambda: datetime.now(UTC))

    @contextmanager
    def scope(parsed: ParsedPayload) -> Iterator[Callable[[Report], Report]]:
        state.require_fresh(now())
        if parsed.kind is PayloadKind.DOCUMENT and state.registry is None:
            raise OfflineRegistryUnavailable("the offline bundle carries no registry state: it cannot verify documents")
        yield lambda report: annotate(report, state)

    return Verifier(
        trust=state.trust_list,
        chain=state,
        status_lists=state.fetch_status_list,
        proofs=state,
        clock=now,
        registry=state.registry,
        freshness=freshness,
        scope=scope,
    )


def verify_offline(
    state: OfflineState,
    payload: str,
    *,
    now: datetime,
    file_bytes: bytes | None = None,
    audience: str | None = None,
    nonce: str | None = None,
    freshness: timedelta = DEFAULT_FRESHNESS,
) -> Report:
    """Verify a QR text, link or payload (document or citizen ID) with only the offline bundle."""
    verifier = offline_verifier(state, clock=lambda: now, freshness=freshness)
    return verifier.verify(payload, file=file_bytes, audience=audience, nonce=nonce)


def verify_bundle_offline(
    state: OfflineState, bundle: Mapping[str, Any], *, now: datetime, file_bytes: bytes | None = None
) -> Report:
    """Verify a JSON proof bundle with the offline bundle's trust list and registry state (not the proof
    bundle's own trust list, which is older). A proof bundle made before anchoring finds its proof in the bundle."""
    return offline_verifier(state, clock=lambda: now).verify_bundle(bundle, file=file_bytes)
