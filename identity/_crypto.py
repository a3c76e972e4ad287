"""The one place in identity/ that calls ``cryptography`` directly: JWS signatures, JWK handling, hashing, sealing.

Everything else uses these recipes. Algorithms are an allow-list: ES256 (P-256) and EdDSA (Ed25519); ``none`` and
HMAC never verify.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

ALLOWED_ALGS = frozenset({"ES256", "EdDSA"})
_ES256 = ec.ECDSA(hashes.SHA256())


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/!!")
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_JSON_DECODER = json.JSONDecoder()
# The C scanner behind json.loads, without the two whitespace regex matches json.loads adds around it: they cost
# more than parsing a disclosure.
_JSON_SCAN: Callable[[str, int], tuple[Any, int]] = _JSON_DECODER.scan_once  # type: ignore[attr-defined]


def b64u_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


# The padding a2b_base64 needs, by length modulo 4; a length of 1 modulo 4 is never base64.
_PADDING = (b"", None, b"==", b"=")


def b64u_decode(text: str) -> bytes:
    """Strict base64url without padding; raises ``ValueError`` on anything else (``+``, ``/``, whitespace, ``=``)."""
    padding = _PADDING[len(text) & 3]
    if padding is None or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        # '+' and '/' become '!', which strict mode refuses like any other character outside the alphabet.
        return binascii.a2b_base64(text.encode("ascii").translate(_FROM_URLSAFE) + padding, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not base64url") from exc


def b64u_is_canonical(text: str) -> bool:
    """True when ``text`` is exactly what encoding its decoded bytes gives back (no stray bits, no padding)."""
    try:
        return b64u_encode(b64u_decode(text)) == text
    except ValueError:
        return False


def sha256_b64u(data: bytes) -> str:
    digest = binascii.b2a_base64(hashlib.sha256(data).digest(), newline=False)
    return digest.translate(_URLSAFE).rstrip(b"=").decode("ascii")


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the form we sign."""
    return _JSON(obj).encode("utf-8")


def json_loads(data: bytes) -> Any:
    """Parse JSON that must be UTF-8 (``json.loads`` would also guess UTF-16 or UTF-32 from bytes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("JSON is not UTF-8") from exc
    try:
        value, end = _JSON_SCAN(text, 0)
    except StopIteration:
        return _JSON_DECODER.decode(text)  # leading whitespace (allowed), or the error message for bad JSON
    if end != len(text) and text[end:].strip(" \t\n\r"):
        raise ValueError("extra data after the JSON value")
    return value


def alg_for_jwk(jwk: dict[str, Any]) -> str | None:
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return "ES256"
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return "EdDSA"
    return None


def public_jwk_only(jwk: dict[str, Any]) -> dict[str, str]:
    """The public members of a P-256 or Ed25519 JWK; ``ValueError`` if it is neither or carries a private part."""
    if not isinstance(jwk, dict) or "d" in jwk:
        raise ValueError("not a public JWK")
    alg = alg_for_jwk(jwk)
    if alg is None:
        raise ValueError("unsupported key type")
    members = ("kty", "crv", "x", "y") if alg == "ES256" else ("kty", "crv", "x")
    out = {m: jwk.get(m) for m in members}
    if not all(isinstance(v, str) for v in out.values()):
        raise ValueError("incomplete JWK")
    _jwk_key(alg, out)  # parses, or raises ValueError
    return {k: str(v) for k, v in out.items()}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url)."""
    pub = public_jwk_only(jwk)
    canonical = json.dumps(dict(sorted(pub.items())), separators=(",", ":")).encode("ascii")
    return sha256_b64u(canonical)


# Parsing a JWK into a key object (point decompression checks, EVP setup) costs about as much as hashing a whole
# SD-JWT, and a verifier sees the same few issuer keys over and over. The cache holds parsed *public keys* keyed by
# the JWK's members (the same members an RFC 7638 thumbprint covers, without hashing them); every signature is still
# verified on every call.
@lru_cache(maxsize=1024)
def _public_key(kty: str, x: object, y: object) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    if not isinstance(x, str):
        raise ValueError("incomplete JWK")
    if kty == "EC":
        if not isinstance(y, str):
            raise ValueError("incomplete JWK")
        xb, yb = b64u_decode(x), b64u_decode(y)
        if len(xb) != 32 or len(yb) != 32:
            raise ValueError("bad P-256 coordinates")
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xb + yb)
    return ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(x))


def _jwk_key(alg: str, jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """The public key of ``jwk`` for ``alg`` (ES256: P-256 only; EdDSA: Ed25519 only); ``ValueError`` otherwise."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg == "ES256" and kty == "EC" and crv == "P-256":
        return _public_key("EC", jwk.get("x"), jwk.get("y"))
    if alg == "EdDSA" and kty == "OKP" and crv == "Ed25519":
        return _public_key("OKP", jwk.get("x"), None)
    raise ValueError("the key does not match the algorithm")


def verify_signature(alg: str, jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> bool:
    """Verify a JWS signature. ``alg`` must be allowed and must match the key type; anything else is ``False``."""
    if alg not in ALLOWED_ALGS:
        return False
    try:
        key = _jwk_key(alg, jwk)
    except (TypeError, ValueError):  # TypeError: an unhashable member (a list, an object) is no key either
        return False
    try:
        # _jwk_key gave a P-256 key for ES256 and an Ed25519 key otherwise; comparing alg is much cheaper than an
        # isinstance check against cryptography's abstract key classes.
        if alg == "ES256":
            if len(signature) != 64:
                return False
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            cast(ec.EllipticCurvePublicKey, key).verify(encode_dss_signature(r, s), signing_input, _ES256)
        else:
            cast(ed25519.Ed25519PublicKey, key).verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


class P256Key:
    """A P-256 private key that signs ES256 JWS: the holder's key. Satisfies ``keys.protocols.Signer``."""

    alg = "ES256"

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("not a P-256 key")
        self._key = private_key
        nums = private_key.public_key().public_numbers()
        self._jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u_encode(nums.x.to_bytes(32, "big")),
            "y": b64u_encode(nums.y.to_bytes(32, "big")),
        }
        self._kid = jwk_thumbprint(self._jwk)

    @classmethod
    def generate(cls) -> P256Key:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> P256Key:
        return cls(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))

    def private_bytes(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")

    @property
    def kid(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, _ES256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_jwk(self) -> dict[str, Any]:
        return dict(self._jwk)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


# Wallet sealing: scrypt derives a key from the passphrase, AES-256-GCM seals the content.
SCRYPT_N = 2**15


def seal(plaintext: bytes, passphrase: str, *, n: int = SCRYPT_N, salt: bytes | None = None) -> dict[str, Any]:
    salt = salt or os.urandom(16)
    nonce = os.urandom(12)
    key = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase.encode("utf-8"))
    ct = AESGCM(key).encrypt(nonce, plaintext, b"xacthuc-wallet-v1")
    return {
        "kdf": {"name": "scrypt", "salt": b64u_encode(salt), "n": n, "r": 8, "p": 1},
        "cipher": "A256GCM",
        "nonce": b64u_encode(nonce),
        "ciphertext": b64u_encode(ct),
    }


def unseal(box: dict[str, Any], passphrase: str) -> bytes | None:
    """The plaintext, or ``None`` if the passphrase is wrong or the box was altered (deliberately indistinct)."""
    try:
        kdf = box["kdf"]
        if kdf["name"] != "scrypt" or box["cipher"] != "A256GCM" or not 2**10 <= int(kdf["n"]) <= 2**20:
            return None
        key = Scrypt(
            salt=b64u_decode(kdf["salt"]), length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])
        ).derive(passphrase.encode("utf-8"))
        return AESGCM(key).decrypt(b64u_decode(box["nonce"]), b64u_decode(box["ciphertext"]), b"xacthuc-wallet-v1")
    except (KeyError, TypeError, ValueError, InvalidTag):
        return None
