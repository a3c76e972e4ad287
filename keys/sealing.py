"""Sealing secrets: the one envelope the keystore's signature keys and the citizen's wallet are both kept in.

A master key (scrypt of a passphrase) and a random per-box salt give, through HKDF with a purpose label (``info``),
the AES-256-GCM key of one box; every member of the box except the nonce and the ciphertext is the AEAD's
associated data, so no header member (format, kid, KDF parameters) can be altered unnoticed. A wrong passphrase and
an altered box fail alike, on purpose.

- :func:`seal_with_key` / :func:`unseal_with_key`: under a master key the caller already holds (the keystore runs
  scrypt once when it opens, then seals each ``sig/<kid>.json`` this way);
- :func:`seal` / :func:`unseal`: a self-contained box under a passphrase (the scrypt parameters travel in ``kdf``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keys import _crypto
from keys.encoding import CryptoInputError, b64url_decode, b64url_encode
from keys.errors import InvalidInput

__all__ = ["ScryptParams", "UnsealFailed", "seal", "seal_with_key", "unseal", "unseal_wallet_v1", "unseal_with_key"]

_CIPHER = "A256GCM"
_NOT_BOUND = frozenset({"nonce", "ciphertext"})


class UnsealFailed(CryptoInputError):
    """The key or passphrase is wrong, or the box was altered: deliberately one indistinct failure."""


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
    bound = {k: v for k, v in box.items() if k not in _NOT_BOUND}
    return json.dumps(bound, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def seal_with_key(master: bytes, plaintext: bytes, *, info: bytes, header: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready box: ``header``'s members, ``salt``, ``nonce`` and ``ciphertext``."""
    if _NOT_BOUND & header.keys() or "salt" in header:
        raise InvalidInput("salt, nonce and ciphertext are the box's own members")
    salt, nonce = _crypto.random_bytes(16), _crypto.random_bytes(12)
    box: dict[str, Any] = {**header, "salt": b64url_encode(salt)}
    key = _crypto.hkdf(master, info=info, salt=salt)
    ciphertext = _crypto.aead_encrypt(key, nonce, plaintext, _aad(box))
    box["nonce"], box["ciphertext"] = b64url_encode(nonce), b64url_encode(ciphertext)
    return box


def unseal_with_key(master: bytes, box: Mapping[str, Any], *, info: bytes) -> bytes:
    """The plaintext of a box made by :func:`seal_with_key`; :class:`UnsealFailed` otherwise."""
    try:
        salt, nonce, ciphertext = (b64url_decode(box[m]) for m in ("salt", "nonce", "ciphertext"))
    except (KeyError, TypeError, ValueError):
        raise UnsealFailed("malformed box") from None
    try:
        return _crypto.aead_decrypt(_crypto.hkdf(master, info=info, salt=salt), nonce, ciphertext, _aad(box))
    except CryptoInputError:
        raise UnsealFailed("wrong key or altered box") from None


def seal(
    plaintext: bytes, passphrase: str, *, info: bytes, header: Mapping[str, Any], params: ScryptParams
) -> dict[str, Any]:
    """A self-contained box under ``passphrase``: :func:`seal_with_key` plus ``kdf`` and ``cipher`` in its header."""
    params.check()
    kdf_salt = _crypto.random_bytes(16)
    kdf = {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": b64url_encode(kdf_salt)}
    master = _crypto.scrypt(passphrase.encode("utf-8"), kdf_salt, n=params.n, r=params.r, p=params.p)
    return seal_with_key(master, plaintext, info=info, header={**header, "kdf": kdf, "cipher": _CIPHER})


def _scrypt_of(box: Mapping[str, Any], passphrase: str) -> bytes:
    kdf = box.get("kdf")
    if box.get("cipher") != _CIPHER or not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise UnsealFailed("unknown cipher or key derivation")
    try:
        params = ScryptParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
        params.check()  # bounded before scrypt runs: a tampered box cannot make unlocking exhaust memory
        salt = b64url_decode(kdf["salt"])
    except (KeyError, TypeError, ValueError):
        raise UnsealFailed("bad key derivation parameters") from None
    return _crypto.scrypt(passphrase.encode("utf-8"), salt, n=params.n, r=params.r, p=params.p)


def unseal(box: Mapping[str, Any], passphrase: str, *, info: bytes) -> bytes:
    """The plaintext of a box made by :func:`seal`; :class:`UnsealFailed` otherwise."""
    return unseal_with_key(_scrypt_of(box, passphrase), box, info=info)


_WALLET_V1_AAD = b"xacthuc-wallet-v1"


def unseal_wallet_v1(box: Mapping[str, Any], passphrase: str) -> bytes:
    """Read only: the plaintext of a ``xacthuc-wallet/1`` file, sealed before wallets used :func:`seal`.

    That format keyed AES-256-GCM with the scrypt output itself and bound only a fixed label, not its parameters.
    Wallets are saved in the current format; this stays so that older wallets on disk still open.
    """
    key = _scrypt_of(box, passphrase)
    try:
        nonce, ciphertext = b64url_decode(box["nonce"]), b64url_decode(box["ciphertext"])
        return _crypto.aead_decrypt(key, nonce, ciphertext, _WALLET_V1_AAD)
    except (KeyError, TypeError, ValueError):  # CryptoInputError, the failed tag, is a ValueError
        raise UnsealFailed("wrong passphrase or altered box") from None
