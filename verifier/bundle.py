"""Verifying a proof bundle with nothing but a JSON-RPC node and the city root key the verifier pinned.

A bundle (``GET /v1/documents/{id}/bundle``) carries the receipt payload, the Merkle proof, the registry and the
signed trust list. The trust list is checked against the *pinned* root (never one the bundle names), the proof is
only a hint (the pipeline recomputes the path and asks the registry), and the revocation state always comes from
the chain, so a stale bundle can never make a revoked document look valid. Its metadata is shown only once it matches
the receipt's signed digest (``metadata_matches``), so an edited title or signer makes the bundle ``invalid``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from keys.errors import InvalidInput
from keys.protocols import KeyResolver
from keys.trust_list import RefreshingTrustList, TrustList, verify_trust_list
from ledger.chain.proof import ChainStatusReader, Proof
from ledger.documents.receipt import Registry
from verifier.document import verify_document

from .report import Report

__all__ = [
    "BUNDLE_TYPE",
    "BundleInvalid",
    "bundle_metadata",
    "bundle_registry",
    "bundle_trust_list",
    "bundle_trust_list_url",
    "verify_bundle",
]

BUNDLE_TYPE = "xacthuc-proof-bundle"
_TRUST_ROOT_PATH = "/v1/trust-root"


class BundleInvalid(InvalidInput):
    """The proof bundle is malformed."""

    code = "BUNDLE_INVALID"


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BundleInvalid(f"{what} must be an object")
    return value


def bundle_registry(bundle: Mapping[str, Any]) -> Registry:
    """The registry (chain id, contract) the bundle names."""
    reg = _obj(bundle.get("registry"), "registry")
    chain_id, contract = reg.get("chain_id"), reg.get("contract")
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or not isinstance(contract, str):
        raise BundleInvalid("registry needs an integer chain_id and a contract address")
    try:
        return Registry.of(chain_id, contract)
    except InvalidInput as exc:
        raise BundleInvalid(f"registry: {exc.message}") from None


def bundle_metadata(bundle: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The metadata the bundle carries (None if it carries none): unsigned until ``metadata_matches`` checks it."""
    raw = bundle.get("metadata")
    return None if raw is None else _obj(raw, "metadata")


def bundle_trust_list(bundle: Mapping[str, Any], root_jwk: Mapping[str, Any], now: datetime) -> TrustList:
    """The bundle's trust list, verified against the pinned root key (expired or foreign lists are refused)."""
    token = _obj(bundle.get("trust"), "trust").get("trust_list")
    if not isinstance(token, str):
        raise BundleInvalid("trust.trust_list must be the signed trust list")
    return verify_trust_list(token, root_jwk, now)


def bundle_trust_list_url(bundle: Mapping[str, Any]) -> str | None:
    """Where the bundle's issuer publishes its trust list (``.../v1/trust-list`` beside ``trust.trust_root_url``).

    Only a hint: whatever is fetched there must verify against the pinned root and be no older than the bundle's.
    """
    trust = bundle.get("trust")
    url = trust.get("trust_root_url") if isinstance(trust, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or not url.endswith(_TRUST_ROOT_PATH):
        return None
    return url.removesuffix(_TRUST_ROOT_PATH) + "/v1/trust-list"


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    root_jwk: Mapping[str, Any],
    chain: ChainStatusReader,
    now: datetime,
    file_bytes: bytes | None = None,
    fetch_trust_list: Callable[[], str] | None = None,
) -> Report:
    """Verify a proof bundle: trust list against the pinned root, then the document pipeline with the chain.

    ``fetch_trust_list`` gets the issuer's current trust list: used once, only if the receipt's key (or issuer) is
    not in the bundle's list, e.g. a key rotated in after the list was made (``RefreshingTrustList``).
    """
    bundle = _obj(bundle, "the bundle")
    if bundle.get("type") != BUNDLE_TYPE:
        raise BundleInvalid("not a xacthuc proof bundle")
    payload = bundle.get("payload")
    if not isinstance(payload, str):
        raise BundleInvalid("payload must be the receipt payload text")
    registry = bundle_registry(bundle)
    trust = bundle_trust_list(bundle, root_jwk, now)
    resolver: KeyResolver = trust
    if fetch_trust_list is not None:
        resolver = RefreshingTrustList(fetch_trust_list, root_jwk, lambda: now, initial=trust)
    raw_proof = bundle.get("proof")
    proof = None if raw_proof is None else Proof.from_dict(_obj(raw_proof, "proof"))

    def proof_source(leaf: bytes) -> Proof | None:
        del leaf  # a proof for another document is reported by the pipeline (PROOF_LEAF_MISMATCH)
        return proof

    return verify_document(
        payload,
        resolver=resolver,
        proof_source=proof_source,
        chain=chain,
        now=now,
        file_bytes=file_bytes,
        registry=registry,
        metadata=bundle_metadata(bundle),
    )
