"""Key generation: ES256 (P-256) by default, Ed25519 as an option, secp256k1 for agencies' Ethereum accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keys import _crypto
from keys.errors import InvalidInput
from keys.jwk import jwk_thumbprint

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DEFAULT_ALG = "ES256"


class LocalSigner:
    """A ``Signer`` over a private key held in memory. ``kid`` is the RFC 7638 thumbprint of its public JWK."""

    __slots__ = ("_alg", "_jwk", "_key", "_kid")

    def __init__(self, private_key: _crypto.PrivateKey) -> None:
        self._key = private_key
        self._alg = _crypto.alg_of_private_key(private_key)
        members: dict[str, Any] = _crypto.public_jwk_of(private_key)
        self._kid = jwk_thumbprint(members)
        self._jwk = {**members, "kid": self._kid, "alg": self._alg, "use": "sig"}

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def alg(self) -> str:
        return self._alg

    def sign(self, message: bytes) -> bytes:
        return _crypto.sign(self._key, message)

    def public_jwk(self) -> dict[str, Any]:
        return dict(self._jwk)

    def to_pkcs8(self) -> bytes:
        """The unencrypted PKCS#8 DER; only the keystore calls this, to encrypt it."""
        return _crypto.private_key_to_pkcs8(self._key)

    @classmethod
    def from_pkcs8(cls, der: bytes) -> LocalSigner:
        return cls(_crypto.private_key_from_pkcs8(der))

    def __repr__(self) -> str:
        return f"LocalSigner(alg={self._alg!r}, kid={self._kid!r})"


def generate_signing_key(alg: str = DEFAULT_ALG) -> LocalSigner:
    """A fresh signature key: ``ES256`` (P-256, the default) or ``EdDSA`` (Ed25519)."""
    if alg not in _crypto.SIGNATURE_ALGS:
        raise InvalidInput(f"unsupported signature algorithm {alg!r}; use one of {', '.join(_crypto.SIGNATURE_ALGS)}")
    return LocalSigner(_crypto.generate_private_key(alg))


def generate_eth_account() -> LocalAccount:
    """A fresh secp256k1 Ethereum account from the OS random source."""
    from eth_account import Account

    account: LocalAccount = Account.from_key(_crypto.random_bytes(32))
    return account
