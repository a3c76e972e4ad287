"""The verifier's X.509 certificate for OpenID4VP, and the ``x509_hash`` client identifier built on it.

OpenID4VP 1.0 lets a verifier name itself ``x509_hash:<base64url SHA-256 of its DER certificate>`` and sign its
request objects with that certificate's key, the certificate in the JWS ``x5c`` header. The hash *is* the identity:
a wallet checks that the ``x5c`` leaf hashes to the client id and that it verified the signature, and needs no CA.
So the certificate here is self-signed (CN "xacthuc verifier", SAN the public host); no chain is built or read.

Also the check a wallet runs on such a request object (``verify_x509_hash_jws``), for our own wallets and tests:
``keys.jws`` refuses ``x5c`` on purpose (never trust a key a token brings), and this is the one place where the
key the token brings is bound by the identifier the caller already holds.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keys import _crypto
from keys.encoding import b64url_decode, b64url_encode, json_loads
from keys.errors import InvalidInput, JwsAlgorithmRejected, JwsMalformed, JwsSignatureInvalid
from keys.generate import LocalSigner
from keys.jws import verify_signature
from keys.limits import X509_TOKEN_CHARS
from keys.protocols import Signer

__all__ = [
    "CERTIFICATE_CN",
    "X509_HASH_PREFIX",
    "VerifierRequestKey",
    "X5cJws",
    "certificate_host",
    "certificate_public_jwk",
    "self_signed_certificate",
    "verify_x509_hash_jws",
    "x509_hash",
    "x509_hash_client_id",
]

CERTIFICATE_CN = "xacthuc verifier"
X509_HASH_PREFIX = "x509_hash:"
CERTIFICATE_LIFETIME = timedelta(days=3650)  # the hash is the identity: no expiry forces a new one on wallets
_MAX_TOKEN = X509_TOKEN_CHARS


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed_certificate(signer: LocalSigner, host: str, now: datetime) -> bytes:
    """A self-signed certificate (DER) for ``signer``'s P-256 key: CN "xacthuc verifier", SAN ``host`` (a DNS name
    or an IP address), valid from a minute before ``now`` for ten years."""
    key = signer._key  # keys/ owns LocalSigner: the certificate must be signed by its private key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not host:
        raise InvalidInput("the verifier certificate needs a P-256 key and a host")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERTIFICATE_CN)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(_crypto.random_bytes(16), "big") >> 1)
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([_san(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise JwsMalformed("not a DER X.509 certificate") from None


def certificate_public_jwk(der: bytes) -> dict[str, str]:
    """The certificate's public key as a JWK (P-256 only)."""
    pub = _load(der).public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or not isinstance(pub.curve, ec.SECP256R1):
        raise JwsAlgorithmRejected("the certificate's key is not P-256")
    return _crypto.public_jwk_of(pub)


def certificate_host(der: bytes) -> str | None:
    """The first SAN of the certificate (DNS name or IP address), or None."""
    try:
        san = _load(der).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for entry in san:
        if isinstance(entry, x509.DNSName | x509.IPAddress):
            return str(entry.value)
    return None


def x509_hash(der: bytes) -> str:
    """base64url (no padding) of SHA-256 over the DER certificate."""
    return b64url_encode(hashlib.sha256(der).digest())


def x509_hash_client_id(der: bytes) -> str:
    """The OpenID4VP client identifier ``x509_hash:<hash>``."""
    return X509_HASH_PREFIX + x509_hash(der)


@dataclass(frozen=True)
class VerifierRequestKey:
    """The OpenID4VP verifier's signing key, its DER certificate and the ``x509_hash:`` client id it makes."""

    signer: Signer
    certificate: bytes
    client_id: str


@dataclass(frozen=True)
class X5cJws:
    """A JWS verified with its own ``x5c`` leaf, that leaf being the one the expected ``x509_hash`` names."""

    header: dict[str, Any]
    payload: dict[str, Any]
    certificate: bytes


def verify_x509_hash_jws(token: str, client_id: str | None = None) -> X5cJws:
    """Verify an ES256 JWS signed by the key of its ``x5c`` leaf, and that the leaf hashes to the ``x509_hash:``
    client id (``client_id``, else the payload's own ``client_id``, which must then match as well).

    Raises ``JwsMalformed``, ``JwsAlgorithmRejected`` or ``JwsSignatureInvalid``."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN or token.count(".") != 2:
        raise JwsMalformed("not a compact JWS")
    h64, p64, s64 = token.split(".")
    try:
        header = json_loads(b64url_decode(h64))
        payload = json_loads(b64url_decode(p64))
        signature = b64url_decode(s64)
    except ValueError:
        raise JwsMalformed("not a compact JWS") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JwsMalformed("the JWS header and payload must be JSON objects")
    if header.get("alg") != "ES256":
        raise JwsAlgorithmRejected("only ES256 is accepted for an x509_hash request")
    if "crit" in header or "jku" in header or "x5u" in header or "jwk" in header:
        raise JwsMalformed("refused header members")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise JwsMalformed("the header has no x5c certificate")
    try:  # x5c is standard base64 with padding (RFC 7515 section 4.1.6), not base64url
        der = base64.b64decode(chain[0], validate=True)
    except ValueError:
        raise JwsMalformed("the x5c certificate is not base64") from None
    expected = client_id if client_id is not None else payload.get("client_id")
    if not isinstance(expected, str) or expected != x509_hash_client_id(der):
        raise JwsSignatureInvalid("the x5c certificate does not match the x509_hash client id")
    if client_id is not None and payload.get("client_id") != client_id:
        raise JwsSignatureInvalid("the request names another client id")
    jwk = certificate_public_jwk(der)
    if not verify_signature("ES256", jwk, (h64 + "." + p64).encode("ascii"), signature):
        raise JwsSignatureInvalid("the signature does not verify with the x5c certificate")
    return X5cJws(header, payload, der)
