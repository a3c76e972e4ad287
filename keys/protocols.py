"""The narrow interfaces other packages sign and verify through, so they need not know how keys are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Signer(Protocol):
    """Something that signs with one private key, identified by ``kid`` (its RFC 7638 thumbprint)."""

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str:
        """The JWS algorithm: ``ES256`` or ``EdDSA``."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``; the result is the JWS signature (ES256: raw ``r || s``, 64 bytes)."""
        ...

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, with ``kid`` and ``alg``."""
        ...


@dataclass(frozen=True)
class TrustedKey:
    """A public key as the signed trust list describes it: whose it is, what it may sign, when it was valid."""

    issuer_id: str
    issuer_name: str
    kid: str
    alg: str
    jwk: dict[str, Any]
    roles: frozenset[str]  # trust-list roles: "documents", "identity"
    not_before: datetime
    not_after: datetime | None
    status: str  # "active" | "retired" | "compromised"
    compromised_at: datetime | None = None
    eth_address: str | None = None  # the agency's Ethereum account (checksummed), for anchor checks


class KeyResolver(Protocol):
    """Finds a trusted issuer key by issuer id and ``kid``; ``None`` when the trust list has no such key."""

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None: ...


@runtime_checkable
class RefreshableResolver(KeyResolver, Protocol):
    """A resolver that can fetch a newer trust list when a verifier meets a key it does not have."""

    def refresh(self, issuer_id: str) -> bool:
        """Fetch once more (rate-limited); True when a newer list came, so the key is worth looking up again."""
        ...
