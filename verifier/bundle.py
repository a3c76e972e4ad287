"""The proof bundle (``GET /v1/documents/{id}/bundle``) and what a verifier reads from it (``Verifier.verify_bundle``
verifies one with its sources: for a third party, a JSON-RPC node and the pinned root).

A bundle carries the receipt payload, the Merkle proof, the registry and the
signed trust list. The trust list is checked against the *pinned* root (never one the bundle names), the proof is
only a hint (the pipeline recomputes the path and asks the registry), and the revocation state always comes from
the chain, so a stale bundle can never make a revoked document look valid. Its metadata is shown only once it matches
the receipt's signed digest (``metadata_matches``), so an edited title or signer makes the bundle ``invalid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keys.errors import InvalidInput
from keys.trust_list import TrustList, verify_trust_list
from ledger.documents.receipt import Registry

__all__ = [
    "BUNDLE_TYPE",
    "BundleInvalid",
    "bundle_metadata",
    "bundle_registry",
    "bundle_replaced_by",
    "bundle_trust_list",
    "bundle_trust_list_url",
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


def bundle_replaced_by(bundle: Mapping[str, Any]) -> str | None:
    """The id of the document the issuer says replaces this one (``replaced_by.document_id``), or None. Only a hint
    for finding the replacement: the chain says whether the document is superseded, and by which leaf."""
    raw = bundle.get("replaced_by")
    document_id = raw.get("document_id") if isinstance(raw, Mapping) else None
    return document_id if isinstance(document_id, str) and 0 < len(document_id) <= 26 else None


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
