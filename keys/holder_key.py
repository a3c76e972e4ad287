"""The citizen's holder key: a P-256 private key kept in a wallet as its raw 32-byte scalar, signing ES256."""

from __future__ import annotations

from typing import Any

from keys import _crypto
from keys.jwk import jwk_thumbprint

__all__ = ["P256Key"]


class P256Key:
    """A P-256 private key that signs ES256 JWS (a KB-JWT). Satisfies ``keys.protocols.Signer``.

    Its ``public_jwk()`` holds only the required members (``kty``, ``crv``, ``x``, ``y``): the form ``cnf`` carries.
    """

    alg = "ES256"
    __slots__ = ("_jwk", "_key", "_kid")

    def __init__(self, private_key: _crypto.PrivateKey) -> None:
        if _crypto.alg_of_private_key(private_key) != "ES256":
            raise ValueError("not a P-256 key")
        self._key = private_key
        self._jwk = _crypto.public_jwk_of(private_key)
        self._kid = jwk_thumbprint(self._jwk)

    @classmethod
    def generate(cls) -> P256Key:
        return cls(_crypto.generate_private_key("ES256"))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> P256Key:
        """From the raw 32-byte private scalar (the wallet's ``holder_key``)."""
        return cls(_crypto.private_key_from_raw("ES256", raw))

    def private_bytes(self) -> bytes:
        return _crypto.private_key_to_raw(self._key)

    @property
    def kid(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        return _crypto.sign(self._key, message)

    def public_jwk(self) -> dict[str, Any]:
        return dict(self._jwk)

    def __repr__(self) -> str:
        return f"P256Key(kid={self._kid!r})"
