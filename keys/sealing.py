"""Sealing a secret under a passphrase: the keystore's scheme, for anything that keeps one sealed blob (a wallet).

scrypt turns the passphrase and a random salt into a master key, HKDF turns that into the AES-256-GCM key for one
purpose (``info``), and every member of the box except the nonce and the ciphertext is the AEAD's associated data,
so no parameter can be altered unnoticed. A wrong passphrase and an altered box fail alike, on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keys import _crypto
from keys.encoding import CryptoInputError, b64url_decode, b64url_encode
from keys.errors import InvalidInput

__all__ = ["ScryptParams", "UnsealFailed", "seal", "unseal", "unseal_wallet_v1"]

_CIPHER = "A256GCM"
_BOUND_OUT = frozenset({"nonce", "ciphertext"})


class UnsealFailed(CryptoInputError):
    """The passphrase is wrong or the box was altered: deliberately one indistinct failure."""


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost; stored in the box, so any cost within the bounds (those of the keystore) can be opened."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def check(self) -> None:
        if self.n < 2**10 or self.n > 2**20 or self.n & (self.n - 1):
            raise InvalidInput("scrypt N must be a power of two between 2^10 and 2^20")
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise InvalidInput("scrypt r or p out of range")


def _aad(box: Mapping[str, Any]) -> bytes:
    bound = {k: v for k, v in box.items() if k not in _BOUND_OUT}
    return json.dumps(bound, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def seal(
    plaintext: bytes, passphrase: str, *, info: bytes, header: Mapping[str, Any], params: ScryptParams
) -> dict[str, Any]:
    """A JSON-ready box: ``header``'s members, ``kdf``, ``cipher``, ``nonce`` and ``ciphertext``."""
    params.check()
    salt, nonce = _crypto.random_bytes(16), _crypto.random_bytes(12)
    kdf = {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": b64url_encode(salt)}
    box: dict[str, Any] = {**header, "kdf": kdf, "cipher": _CIPHER}
    master = _crypto.scrypt(passphrase.encode("utf-8"), salt, n=params.n, r=params.r, p=params.p)
    key = _crypto.hkdf(master, info=info)
    box["nonce"] = b64url_encode(nonce)
    box["ciphertext"] = b64url_encode(_crypto.aead_encrypt(key, nonce, plaintext, _aad(box)))
    return box


def _params(kdf: Any) -> tuple[ScryptParams, bytes]:
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise UnsealFailed("unknown key derivation")
    try:
        params = ScryptParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
        params.check()  # bounded before scrypt runs: a tampered box cannot make unlocking exhaust memory
        return params, b64url_decode(kdf["salt"])
    except (KeyError, TypeError, ValueError):
        raise UnsealFailed("bad key derivation parameters") from None


def unseal(box: Mapping[str, Any], passphrase: str, *, info: bytes) -> bytes:
    """The plaintext of a box made by :func:`seal`; :class:`UnsealFailed` otherwise."""
    if box.get("cipher") != _CIPHER:
        raise UnsealFailed("unknown cipher")
    params, salt = _params(box.get("kdf"))
    try:
        nonce, ciphertext = b64url_decode(box["nonce"]), b64url_decode(box["ciphertext"])
    except (KeyError, ValueError):
        raise UnsealFailed("malformed box") from None
    master = _crypto.scrypt(passphrase.encode("utf-8"), salt, n=params.n, r=params.r, p=params.p)
    try:
        return _crypto.aead_decrypt(_crypto.hkdf(master, info=info), nonce, ciphertext, _aad(box))
    except CryptoInputError:
        raise UnsealFailed("wrong passphrase or altered box") from None


_WALLET_V1_AAD = b"xacthuc-wallet-v1"


def unseal_wallet_v1(box: Mapping[str, Any], passphrase: str) -> bytes:
    """Read only: the plaintext of a ``xacthuc-wallet/1`` file, sealed before wallets used :func:`seal`.

    That format keyed AES-256-GCM with the scrypt output itself and bound only a fixed label, not its parameters.
    Wallets written since are in the current format; this stays so that older wallets on disk still open.
    """
    if box.get("cipher") != _CIPHER:
        raise UnsealFailed("unknown cipher")
    params, salt = _params(box.get("kdf"))
    try:
        nonce, ciphertext = b64url_decode(box["nonce"]), b64url_decode(box["ciphertext"])
    except (KeyError, ValueError):
        raise UnsealFailed("malformed box") from None
    key = _crypto.scrypt(passphrase.encode("utf-8"), salt, n=params.n, r=params.r, p=params.p)
    try:
        return _crypto.aead_decrypt(key, nonce, ciphertext, _WALLET_V1_AAD)
    except CryptoInputError:
        raise UnsealFailed("wrong passphrase or altered box") from None
