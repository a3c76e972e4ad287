"""Every low-level call into ``cryptography`` in xacthuc sits here; everything else uses the recipes built on it
(``keys.jws``, ``keys.jwk``, ``keys.sealing``, ``keys.generate``, ``keys.holder_key``, the keystore)."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from keys.encoding import CryptoInputError, b64url_decode, b64url_encode

__all__ = [  # the base64url codec and its error are re-exported: the keystore reads them from here
    "SIGNATURE_ALGS",
    "CryptoInputError",
    "PrivateKey",
    "PublicKey",
    "aead_decrypt",
    "aead_encrypt",
    "alg_for_jwk",
    "alg_of_private_key",
    "b64url_decode",
    "b64url_encode",
    "generate_private_key",
    "hkdf",
    "mac",
    "mac_equal",
    "private_key_from_pkcs8",
    "private_key_from_raw",
    "private_key_to_pkcs8",
    "private_key_to_raw",
    "public_jwk_of",
    "public_key_for",
    "public_key_from_jwk",
    "random_bytes",
    "scrypt",
    "sign",
    "verify",
]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

SIGNATURE_ALGS = ("ES256", "EdDSA")
_P256_ORDER_BYTES = 32


# --- signature keys -------------------------------------------------------------------------------------------------


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise CryptoInputError(f"unsupported signature algorithm {alg!r}")


def private_key_from_raw(alg: str, raw: bytes) -> PrivateKey:
    """A key from its raw private scalar / seed (legacy plain key files stored these as hex)."""
    if alg == "ES256":
        if len(raw) != _P256_ORDER_BYTES:
            raise CryptoInputError("a P-256 private key is 32 bytes")
        try:
            return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        except ValueError as exc:
            raise CryptoInputError("not a P-256 private key") from exc
    if alg == "EdDSA":
        if len(raw) != 32:
            raise CryptoInputError("an Ed25519 private key is 32 bytes")
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    raise CryptoInputError(f"unsupported signature algorithm {alg!r}")


def alg_of_private_key(key: PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise CryptoInputError("unsupported curve")


def private_key_to_pkcs8(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER: only ever handed to the keystore's AEAD envelope."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_pkcs8(der: bytes) -> PrivateKey:
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoInputError("not a PKCS#8 private key") from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise CryptoInputError("unsupported private key type")


def private_key_to_raw(key: PrivateKey) -> bytes:
    """The raw private scalar (P-256) or seed (Ed25519), 32 bytes: what a wallet keeps, sealed."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    return key.private_numbers().private_value.to_bytes(_P256_ORDER_BYTES, "big")


def public_jwk_of(key: PrivateKey | PublicKey) -> dict[str, str]:
    """The public JWK members (no ``kid``/``alg``) of a key."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) else key
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    numbers = pub.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def alg_for_jwk(jwk: Mapping[str, Any]) -> str:
    """The one JWS algorithm a public JWK may be used with: the key decides, never a token header."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and crv == "P-256":
        return "ES256"
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    raise CryptoInputError("unsupported JWK (only EC P-256 and OKP Ed25519)")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    if "d" in jwk:
        raise CryptoInputError("a private JWK is not a public key")
    alg_for_jwk(jwk)
    if jwk["kty"] == "EC":
        return _ec_public(str(jwk.get("x", "")), str(jwk.get("y", "")))
    return _ed_public(str(jwk.get("x", "")))


def public_key_for(alg: str, jwk: Mapping[str, Any]) -> PublicKey:
    """The public key of ``jwk`` if its type is the one ``alg`` needs (ES256: EC P-256, EdDSA: OKP Ed25519)."""
    if "d" in jwk:
        raise CryptoInputError("a private JWK is not a public key")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg == "ES256" and kty == "EC" and crv == "P-256":
        return _ec_public(str(jwk.get("x", "")), str(jwk.get("y", "")))
    if alg == "EdDSA" and kty == "OKP" and crv == "Ed25519":
        return _ed_public(str(jwk.get("x", "")))
    raise CryptoInputError("the key is not one for this algorithm")


# Parsing a JWK into a key object (point checks, EVP setup) costs about as much as hashing a whole SD-JWT, and a
# verifier sees the same few issuer keys over and over: parsed keys are cached by their coordinates. Every signature
# is still verified on every call.
@lru_cache(maxsize=1024)
def _ec_public(x: str, y: str) -> ec.EllipticCurvePublicKey:
    xb, yb = b64url_decode(x), b64url_decode(y)
    if len(xb) != 32 or len(yb) != 32:
        raise CryptoInputError("P-256 coordinates are 32 bytes")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xb + yb)
    except ValueError as exc:
        raise CryptoInputError("not a point on P-256") from exc


@lru_cache(maxsize=1024)
def _ed_public(x: str) -> ed25519.Ed25519PublicKey:
    xb = b64url_decode(x)
    if len(xb) != 32:
        raise CryptoInputError("an Ed25519 public key is 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(xb)


_ES256 = ec.ECDSA(hashes.SHA256())  # immutable; built once, not per signature (a few µs each time)


def sign(key: PrivateKey, message: bytes) -> bytes:
    """The JWS signature: raw ``r || s`` (64 bytes) for ES256, the 64-byte signature for EdDSA."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    der = key.sign(message, _ES256)
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(alg: str, key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Check a JWS signature (ES256: raw ``r || s``) with a key for ``alg`` (from ``public_key_for``): branching on
    ``alg`` skips an isinstance check against cryptography's abstract key classes, which costs more than the rest."""
    try:
        if alg == "EdDSA":
            cast(ed25519.Ed25519PublicKey, key).verify(signature, message)
            return True
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        cast(ec.EllipticCurvePublicKey, key).verify(encode_dss_signature(r, s), message, _ES256)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# --- keystore primitives --------------------------------------------------------------------------------------------


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def scrypt(passphrase: bytes, salt: bytes, *, n: int, r: int, p: int, length: int = 32) -> bytes:
    return Scrypt(salt=salt, length=length, n=n, r=r, p=p).derive(passphrase)


def hkdf(master: bytes, *, info: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(master)


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise CryptoInputError("authentication tag mismatch") from exc


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def mac_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
