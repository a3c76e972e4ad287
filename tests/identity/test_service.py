from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from identity import service
from identity.errors import (
    CitizenExists,
    CitizenNotFound,
    CredentialError,
    CredentialNotFound,
    HolderKeyInvalid,
    StatusListNotFound,
    WalletError,
    WalletLocked,
)
from identity.models import Credential
from identity.sdjwt import parse_disclosure, parse_jws, split_compact
from identity.status_list import parse_status_list_jwt
from identity.wallet import create_wallet, open_wallet
from keys.errors import Forbidden
from keys.holder_key import P256Key
from tests.identity.conftest import CITIZEN, ISSUER, NOW, STATUS_BASE, TestSigner


def test_duplicate_cccd_is_refused(session: Session) -> None:
    service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    with pytest.raises(CitizenExists) as info:
        service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    assert info.value.http_status == 409


def test_issued_credential_shape(session: Session, issuer_signer: TestSigner) -> None:
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    holder = P256Key.generate()
    cid, cred = service.issue_credential(
        session, c.id, issuer_signer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    sd = split_compact(cred)
    jws = parse_jws(sd.issuer_jwt)
    assert jws.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": issuer_signer.kid}
    p = jws.payload
    assert p["iss"] == ISSUER and p["vct"] == service.VCT and p["_sd_alg"] == "sha-256"
    assert p["exp"] - p["iat"] == int(service.DEFAULT_TTL.total_seconds())
    assert p["cnf"]["jwk"] == {k: holder.public_jwk()[k] for k in ("kty", "crv", "x", "y")}
    assert p["status"]["status_list"]["uri"].startswith(STATUS_BASE + "/")
    names = {parse_disclosure(d).name for d in sd.disclosures}
    assert names == {
        "given_name",
        "family_name",
        "full_name",
        "birth_date",
        "sex",
        "nationality",
        "place_of_origin",
        "place_of_residence",
        "personal_id",
        "age_over_18",
    }
    assert not names & set(p)
    row = session.get(Credential, cid)
    assert row is not None and row.status_idx == p["status"]["status_list"]["idx"]


def test_status_indexes_are_unique_and_random(session: Session, issuer_signer: TestSigner) -> None:
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    for _ in range(20):
        service.issue_credential(
            session, c.id, issuer_signer, ISSUER, None, NOW, status_base_url=STATUS_BASE, list_size=64
        )
    rows = session.exec(select(Credential)).all()
    pairs = {(r.status_list_id, r.status_idx) for r in rows}
    assert len(pairs) == 20
    assert len({r.status_list_id for r in rows}) == 1 or all(r.status_idx < 64 for r in rows)
    assert sorted(r.status_idx for r in rows) != [r.status_idx for r in rows]  # not sequential


def test_revocation_sets_the_bit(session: Session, issuer_signer: TestSigner) -> None:
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    cid, _ = service.issue_credential(session, c.id, issuer_signer, ISSUER, None, NOW, status_base_url=STATUS_BASE)
    row = service.revoke_credential(session, cid, NOW)
    service.revoke_credential(session, cid, NOW)  # idempotent
    token = parse_status_list_jwt(
        service.status_list_token(session, row.status_list_id, issuer_signer, status_base_url=STATUS_BASE, now=NOW)
    )
    assert token.status_list.get(row.status_idx) == 1
    assert sum(token.status_list.get(i) for i in range(token.status_list.size)) == 1


def test_errors(session: Session, issuer_signer: TestSigner) -> None:
    with pytest.raises(CitizenNotFound):
        service.issue_credential(session, "nope", issuer_signer, ISSUER, None, NOW, status_base_url=STATUS_BASE)
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    with pytest.raises(HolderKeyInvalid):
        service.issue_credential(
            session, c.id, issuer_signer, ISSUER, {"kty": "oct", "k": "x"}, NOW, status_base_url=STATUS_BASE
        )
    with pytest.raises(HolderKeyInvalid):
        private = {**P256Key.generate().public_jwk(), "d": "AAAA"}
        service.issue_credential(session, c.id, issuer_signer, ISSUER, private, NOW, status_base_url=STATUS_BASE)
    with pytest.raises(CredentialNotFound):
        service.revoke_credential(session, "nope", NOW)
    with pytest.raises(StatusListNotFound):
        service.status_list_issuer(session, "nope")


def test_only_the_issuer_may_revoke(session: Session, issuer_signer: TestSigner) -> None:
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    cid, _ = service.issue_credential(session, c.id, issuer_signer, ISSUER, None, NOW, status_base_url=STATUS_BASE)
    with pytest.raises(Forbidden):
        service.revoke_credential(session, cid, NOW, issuer_id="another-agency")
    assert session.get(Credential, cid).revoked_at is None  # type: ignore[union-attr]
    row = service.revoke_credential(session, cid, NOW, issuer_id=ISSUER)
    assert row.revoked_at is not None
    assert service.status_list_issuer(session, row.status_list_id) == ISSUER


def test_status_list_id_from_uri() -> None:
    assert service.status_list_id(STATUS_BASE + "/abc", status_base_url=STATUS_BASE + "/") == "abc"
    for uri in ("https://elsewhere.example/v1/status-lists/abc", STATUS_BASE + "/", STATUS_BASE + "/a/b"):
        assert service.status_list_id(uri, status_base_url=STATUS_BASE) is None


def test_error_codes_are_stable_and_unique() -> None:
    import identity.errors as e

    leaves = {cls.code: cls for cls in vars(e).values() if isinstance(cls, type) and issubclass(cls, CredentialError)}
    assert len(leaves) == len([c for c in vars(e).values() if isinstance(c, type) and issubclass(c, CredentialError)])
    assert {"CCCD_INVALID", "CCCD_MISMATCH", "CITIZEN_EXISTS", "TRANSPORT_TOO_LARGE", "WALLET_UNLOCK_FAILED"} <= set(
        leaves
    )


def test_wallet_round_trip(tmp_path: Path, session: Session, issuer_signer: TestSigner) -> None:
    path = tmp_path / "wallet.json"
    w = create_wallet(path, "mật khẩu", scrypt_n=2**10)
    assert path.stat().st_mode & 0o777 == 0o600
    c = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    _, cred = service.issue_credential(
        session, c.id, issuer_signer, ISSUER, w.holder_jwk(), NOW, status_base_url=STATUS_BASE
    )
    w.import_credential(cred, NOW)
    w.save("mật khẩu")
    assert CITIZEN["cccd"] not in path.read_text()
    w2 = open_wallet(path, "mật khẩu")
    [shown] = w2.show()
    assert shown["claims"]["full_name"] == "Nguyễn Thị Minh Khai"
    qr = w2.present(["age_over_18"], audience="https://bank.example", now=NOW)
    assert qr.startswith("XI2:")
    with pytest.raises(WalletLocked):
        open_wallet(path, "wrong")
    _, other = service.issue_credential(
        session, c.id, issuer_signer, ISSUER, P256Key.generate().public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    with pytest.raises(WalletError):
        w2.import_credential(other, NOW)
