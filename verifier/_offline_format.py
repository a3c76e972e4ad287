"""The offline bundle's errors (stable codes) and the parsing of its registry section, for ``verifier.offline``."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keys.encoding import b64url_decode
from keys.errors import InvalidInput
from keys.limits import OFFLINE_REGISTRY_BYTES
from keys.validity import from_epoch
from ledger.chain.merkle import node_hash
from ledger.chain.proof import RevocationReason

from .errors import VerificationError


@dataclass(frozen=True)
class AnchoredRoot:
    """An anchored Merkle root: who anchored it, when and where, and its leaf hashes in tree order."""

    root: bytes
    anchorer: str  # 0x-prefixed address: the registry keys anchors by agency and root
    anchored_at: datetime
    block: int
    tx_hash: str
    leaves: tuple[bytes, ...]  # leaf hashes (keccak256(0x00 || data)), as the stored tree holds them


@dataclass(frozen=True)
class Revocation:
    """A revoked ``(agency, root, data)``: the registry's reason code, when, and the replacement's leaf data if any.
    ``agency`` is the account that anchored ``root`` (the registry keys revocations by agency, root and data)."""

    agency: str
    root: bytes
    data: bytes
    reason: int
    revoked_at: datetime
    replaced_by: bytes | None
    replacement: dict[str, str] | None  # {"number", "document_id"} of the replacement, when this server knows it


MAX_REGISTRY_JSON = OFFLINE_REGISTRY_BYTES


# ----------------------------------------------------------------------------------------------------------- errors
class OfflineBundleError(VerificationError, InvalidInput):
    """The offline bundle is malformed or is not an offline bundle."""

    code = "OFFLINE_BUNDLE_INVALID"
    http_status = 422


class OfflineBundleSignatureInvalid(OfflineBundleError):
    """The offline bundle's signature does not verify with the pinned root key (altered in transit or on disk)."""

    code = "OFFLINE_BUNDLE_SIGNATURE_INVALID"


class OfflineBundleUntrusted(OfflineBundleError):
    """The offline bundle is signed by another key than the pinned city root."""

    code = "OFFLINE_BUNDLE_UNTRUSTED"


class OfflineBundleExpired(OfflineBundleError):
    """The offline bundle is past its ``exp``: its revocation state is no longer fresh. Download a new one."""

    code = "OFFLINE_BUNDLE_EXPIRED"


class OfflineBundleTrustListInvalid(OfflineBundleError):
    """The trust list inside the offline bundle does not verify against the pinned root."""

    code = "OFFLINE_BUNDLE_TRUST_LIST_INVALID"


class OfflineBundleTooLarge(VerificationError):
    """The bundle would exceed the 1 MiB JWS limit verifiers enforce (a server-side limit, not bad input)."""

    code = "OFFLINE_BUNDLE_TOO_LARGE"
    http_status = 507


class OfflineStatusListMissing(VerificationError):
    """The offline bundle holds no status list at this URI."""

    code = "OFFLINE_STATUS_LIST_MISSING"
    http_status = 422


class OfflineRegistryUnavailable(VerificationError):
    """The offline bundle holds no state for this registry (another chain or contract, or none at all)."""

    code = "OFFLINE_REGISTRY_UNAVAILABLE"
    http_status = 422


# ---------------------------------------------------------------------------------------------------------- parsing
def unhex(value: Any, what: str, size: int | None = 32) -> bytes:
    if not isinstance(value, str):
        raise OfflineBundleError(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise OfflineBundleError(f"{what} must be a hex string") from None
    if size is not None and len(raw) != size:
        raise OfflineBundleError(f"{what} must be {size} bytes")
    return raw


def req_int(d: Mapping[str, Any], key: str, what: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise OfflineBundleError(f"{what}.{key} must be a non-negative integer")
    return v


def req_str(d: Mapping[str, Any], key: str, what: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise OfflineBundleError(f"{what}.{key} must be a string")
    return v


def req_address(d: Mapping[str, Any], key: str, what: str) -> str:
    """A 0x-prefixed 20-byte address, lowercase."""
    v = req_str(d, key, what)
    if len(v) != 42 or not v.startswith("0x"):
        raise OfflineBundleError(f"{what}.{key} must be a 0x-prefixed 20-byte address")
    unhex(v[2:], f"{what}.{key}", 20)
    return v.lower()


def req_time(d: Mapping[str, Any], key: str, what: str) -> datetime:
    return from_epoch(req_int(d, key, what))


def registry_section(claims: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if "registry_z" in claims:
        z = claims["registry_z"]
        if not isinstance(z, str):
            raise OfflineBundleError("registry_z must be base64url text")
        try:
            d = zlib.decompressobj()
            raw = d.decompress(b64url_decode(z), MAX_REGISTRY_JSON + 1)
        except (ValueError, zlib.error):
            raise OfflineBundleError("registry_z is not base64url zlib data") from None
        if len(raw) > MAX_REGISTRY_JSON or d.unconsumed_tail or not d.eof:
            raise OfflineBundleError("registry_z is too large or truncated")
        try:
            section = json.loads(raw)
        except ValueError:
            raise OfflineBundleError("registry_z does not hold JSON") from None
    else:
        section = claims.get("registry")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise OfflineBundleError("registry must be an object")
    return section


def parse_root(raw: Any) -> AnchoredRoot:
    if not isinstance(raw, dict):
        raise OfflineBundleError("a root entry must be an object")
    leaves_hex = req_str(raw, "leaves", "root")
    if len(leaves_hex) % 64 or not leaves_hex:
        raise OfflineBundleError("root.leaves must hold 32-byte leaf hashes")
    leaves = unhex(leaves_hex, "root.leaves", None)
    return AnchoredRoot(
        root=unhex(raw.get("root"), "root.root"),
        anchorer=req_address(raw, "anchorer", "root"),
        anchored_at=req_time(raw, "anchored_at", "root"),
        block=req_int(raw, "block", "root"),
        tx_hash=req_str(raw, "tx", "root"),
        leaves=tuple(leaves[i : i + 32] for i in range(0, len(leaves), 32)),
    )


def parse_revocation(raw: Any) -> Revocation:
    if not isinstance(raw, dict):
        raise OfflineBundleError("a revoked entry must be an object")
    reason = req_int(raw, "reason", "revoked")
    if reason == RevocationReason.NONE or reason not in set(RevocationReason):
        raise OfflineBundleError("revoked.reason is not a revocation reason code")
    by = raw.get("replaced_by")
    replacement = raw.get("replacement")
    if replacement is not None and not (
        isinstance(replacement, dict) and all(isinstance(v, str) for v in replacement.values())
    ):
        raise OfflineBundleError("revoked.replacement must be an object of strings")
    return Revocation(
        agency=req_address(raw, "agency", "revoked"),
        root=unhex(raw.get("root"), "revoked.root"),
        data=unhex(raw.get("data"), "revoked.data"),
        reason=reason,
        revoked_at=req_time(raw, "revoked_at", "revoked"),
        replaced_by=None if by is None else unhex(by, "revoked.replaced_by"),
        replacement=replacement,
    )


def tree_levels(leaves: tuple[bytes, ...]) -> list[list[bytes]]:
    """Every level of the tree over ``leaves`` (leaf hashes), by ledger.chain.merkle's rule."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        levels.append(parents)
    return levels
