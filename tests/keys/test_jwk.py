from __future__ import annotations

import json
from pathlib import Path

import pytest

from keys.errors import InvalidInput
from keys.generate import generate_signing_key
from keys.jwk import checked_public_jwk, jwk_thumbprint

VECTORS = Path(__file__).parents[1] / "vectors" / "keys"


def test_rfc7638_example_thumbprint() -> None:
    vector = json.loads((VECTORS / "rfc7638.json").read_text())
    assert jwk_thumbprint(vector["jwk"]) == vector["thumbprint"]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_kid_is_the_thumbprint_of_the_public_jwk(alg: str) -> None:
    signer = generate_signing_key(alg)
    jwk = signer.public_jwk()
    assert jwk["alg"] == alg
    assert "d" not in jwk
    assert signer.kid == jwk["kid"] == jwk_thumbprint(jwk)


def test_thumbprint_ignores_optional_members() -> None:
    jwk = generate_signing_key().public_jwk()
    assert jwk_thumbprint({**jwk, "use": "enc", "kid": "x"}) == jwk["kid"]


def test_private_jwk_is_not_a_public_key() -> None:
    jwk = generate_signing_key().public_jwk()
    with pytest.raises(InvalidInput):
        checked_public_jwk({**jwk, "d": "AAAA"})


def test_kid_that_is_not_the_thumbprint_is_refused() -> None:
    a, b = generate_signing_key().public_jwk(), generate_signing_key().public_jwk()
    with pytest.raises(InvalidInput):
        checked_public_jwk({**a, "kid": b["kid"]})


def test_point_off_the_curve_is_refused() -> None:
    jwk = generate_signing_key().public_jwk()
    with pytest.raises(InvalidInput):
        checked_public_jwk({**jwk, "y": jwk["x"], "kid": None} | {})
