"""Fixtures for identity tests: P-256 keys wrapped in a tiny Signer, a dict-based KeyResolver, a session.

``session`` runs on ``engine`` from ``tests/plugins/db.py``: the migrated schema, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from sqlalchemy import Engine
from sqlmodel import Session

from keys.protocols import TrustedKey

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ISSUER = "https://id.hcmc.example"
STATUS_BASE = "https://id.hcmc.example/v1/status-lists"
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestSigner:
    """A P-256 ES256 signer for tests."""

    __test__ = False
    alg = "ES256"

    def __init__(self, kid: str = "issuer-key-1", key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self._kid = kid

    @property
    def kid(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_jwk(self) -> dict[str, Any]:
        n = self.key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big")),
            "kid": self._kid,
            "alg": "ES256",
        }


@dataclass
class DictResolver:
    keys: dict[tuple[str, str], TrustedKey] = field(default_factory=dict)

    def add(
        self, issuer_id: str, signer: TestSigner, roles: frozenset[str] = frozenset({"identity"}), **kw: Any
    ) -> None:
        params: dict[str, Any] = {
            "issuer_name": "Công an TP.HCM",
            "not_before": NOW - timedelta(days=365),
            "not_after": None,
            "status": "active",
        }
        params.update(kw)
        self.keys[(issuer_id, signer.kid)] = TrustedKey(
            issuer_id=issuer_id, kid=signer.kid, alg=signer.alg, jwk=signer.public_jwk(), roles=roles, **params
        )

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return self.keys.get((issuer_id, kid))


@pytest.fixture(scope="session")
def issuer_signer() -> TestSigner:
    return TestSigner()


@pytest.fixture
def resolver(issuer_signer: TestSigner) -> DictResolver:
    r = DictResolver()
    r.add(ISSUER, issuer_signer)
    return r


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def rng() -> Any:
    return os.urandom
