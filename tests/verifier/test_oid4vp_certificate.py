"""Issue 12, OpenID4VP: the verifier's request-signing key lives in the city keystore, made on first use, and its
self-signed certificate (whose SHA-256 is the ``x509_hash`` client id) stays the same until the public host changes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from keys.bootstrap import VERIFIER_RECORD, create_city, load_city
from keys.keystore import TEST_KDF
from keys.x509 import CERTIFICATE_CN, certificate_host, certificate_public_jwk, x509_hash
from tests.identity.conftest import NOW

PASSPHRASE = "a passphrase for the verifier key tests"


def test_the_verifier_key_is_made_once_and_kept_in_the_keystore(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        city = create_city(tmp_path, s, PASSPHRASE, NOW, kdf=TEST_KDF)
        s.commit()
    assert city.keystore.read_record(VERIFIER_RECORD) is None  # not made before it is needed
    first = city.verifier_request_key("xacthuc.example", NOW)
    assert first.client_id == "x509_hash:" + x509_hash(first.certificate)
    assert certificate_host(first.certificate) == "xacthuc.example"
    assert certificate_public_jwk(first.certificate) == {
        k: v for k, v in first.signer.public_jwk().items() if k in ("kty", "crv", "x", "y")
    }
    assert CERTIFICATE_CN.encode() in first.certificate
    # Another process (a restart) unlocks the same keystore and gets the same key and certificate.
    with Session(engine) as s:
        again = load_city(tmp_path, s, PASSPHRASE, NOW).verifier_request_key("xacthuc.example", NOW)
    assert (again.client_id, again.signer.kid) == (first.client_id, first.signer.kid)
    # The record is no agency: the trust list and the agency list do not see it.
    assert city.agency_ids() == []
    # A new public host: a new certificate (so a new client id) for the same key; an IP address is an IP SAN.
    moved = city.verifier_request_key("127.0.0.1", NOW)
    assert moved.signer.kid == first.signer.kid and moved.client_id != first.client_id
    assert certificate_host(moved.certificate) == "127.0.0.1"
