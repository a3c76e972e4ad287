"""Our hand-written JWS (keys.jws) against an independent implementation, PyJWT: each verifies what the other signs."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt import PyJWK
from jwt.api_jws import PyJWS

from keys.generate import LocalSigner
from keys.jws import sign_jws, verify_jws

PRIVATE = {"ES256": lambda: ec.generate_private_key(ec.SECP256R1()), "EdDSA": ed25519.Ed25519PrivateKey.generate}


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_pyjwt_verifies_what_we_sign(alg: str) -> None:
    signer = LocalSigner(PRIVATE[alg]())
    payload = {"iss": "ubnd-hcm", "n": 1, "name": "Nguyễn"}
    token = sign_jws(signer, payload, {"typ": "xacthuc-test+jwt"})
    decoded = PyJWS(algorithms=[alg]).decode_complete(token, PyJWK(signer.public_jwk()), algorithms=[alg])
    assert json.loads(decoded["payload"]) == payload
    assert decoded["header"] == {"alg": alg, "kid": signer.kid, "typ": "xacthuc-test+jwt"}


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_we_verify_what_pyjwt_signs(alg: str) -> None:
    private = PRIVATE[alg]()
    signer = LocalSigner(private)
    token = PyJWS().encode(b'{"iss":"ubnd-hcm"}', private, algorithm=alg, headers={"kid": signer.kid})
    verified = verify_jws(token, signer.public_jwk())
    assert verified.claims() == {"iss": "ubnd-hcm"}
    assert verified.header["kid"] == signer.kid
