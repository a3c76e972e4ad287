"""Fixed-key signers for receipt tests and vectors (deterministic: Ed25519, and ES256 per RFC 6979)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.jwk import jwk_thumbprint
from ledger.documents.receipt import ReceiptFields, Registry


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FixedSigner:
    """A ``Signer`` over a fixed private key; ES256 signs deterministically so vectors are exact."""

    def __init__(self, alg: str, secret: bytes) -> None:
        self.alg = alg
        if alg == "ES256":
            self._ec = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1())
            n = self._ec.public_key().public_numbers()
            members = {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64(n.x.to_bytes(32, "big")),
                "y": _b64(n.y.to_bytes(32, "big")),
            }
        else:
            self._ed = ed25519.Ed25519PrivateKey.from_private_bytes(secret)
            raw = self._ed.public_key().public_bytes_raw()
            members = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
        self.kid = jwk_thumbprint(members)
        self.jwk: dict[str, Any] = {**members, "kid": self.kid, "alg": alg}

    def sign(self, message: bytes) -> bytes:
        if self.alg == "EdDSA":
            return self._ed.sign(message)
        der = self._ec.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.jwk)


ES256_SIGNER = FixedSigner("ES256", bytes(range(1, 33)))
EDDSA_SIGNER = FixedSigner("EdDSA", bytes(range(32, 64)))
REGISTRY = Registry.of(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3")
T0 = datetime(2024, 7, 15, 9, 30, 12, tzinfo=UTC)


def fields(**overrides: Any) -> ReceiptFields:
    base: dict[str, Any] = {
        "issuer_id": "ubnd-tphcm",
        "document_id": bytes.fromhex("0190b5e0c7d0") + bytes(range(10)),
        "file_sha256": bytes(range(32)),
        "metadata_digest": bytes(range(32, 64)),
        "issued_at": T0,
        "registry": REGISTRY,
        "number": "2392/QĐ-UBND",
        "issued_on": date(2024, 7, 15),
    }
    base.update(overrides)
    return ReceiptFields(**base)
