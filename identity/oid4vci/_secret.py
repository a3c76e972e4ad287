"""Secrets of the OpenID4VCI issuer: random values, and the SHA-256 under which they are stored."""

from __future__ import annotations

import hashlib
import hmac

from identity.sdjwt import Rng
from keys.encoding import b64url_encode


def new_secret(rng: Rng, size: int = 32) -> str:
    """``size`` random bytes (256 bits by default), base64url."""
    return b64url_encode(rng(size))


def digest(secret: str) -> str:
    """What the database keeps of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))
