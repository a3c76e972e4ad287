"""The OpenID4VCI issuer's domain functions with a fixed clock and a seeded random source: offers, the transaction
code and its attempt limit, access tokens, c_nonces, the holder proof, and issuer identifiers."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from identity import service
from identity.errors import CitizenNotFound, Oid4vciError
from identity.oid4vci import offers, proof, tokens
from identity.oid4vci.models import AccessTokenRow, NonceRow, OfferRow
from keys.holder_key import P256Key
from tests.identity.conftest import CITIZEN, NOW, STATUS_BASE, TestSigner
from tests.identity.oid4vci_proofs import proof_jwt

AGENCY = "ca-hcm"
PU = "https://id.hcmc.example"


def seeded(seed: int = 7) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@pytest.fixture
def citizen(session: Session) -> str:
    citizen_id = service.register_citizen(session, CITIZEN, NOW, agency_id=AGENCY).id
    session.commit()
    return citizen_id


def _code(offer: offers.NewOffer) -> str:
    return offers.pre_authorized_code(offer.id)


# ---------------------------------------------------------------------------------------------------------- offers
def test_offers_are_reproducible_from_the_seed(session: Session, citizen: str) -> None:
    a = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    session.rollback()
    b = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    assert (a.id, a.tx_code, a.expires_at) == (b.id, b.tx_code, b.expires_at)
    assert a.expires_at == NOW + timedelta(minutes=10) and len(a.tx_code) == 6 and a.tx_code.isdigit()
    assert len(a.id) == 43  # 256 bits, base64url
    assert a.tx_code not in repr(a) and a.id not in repr(a)


def test_offer_secrets_are_stored_only_as_hashes(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    token = tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=NOW, rng=seeded(8))
    nonce = tokens.new_nonce(session, now=NOW, rng=seeded(9))
    stored = " ".join(
        str(v)
        for model in (OfferRow, AccessTokenRow, NonceRow)
        for row in session.exec(select(model)).all()
        for v in row.model_dump().values()
    )
    for secret in (offer.id, _code(offer), offer.tx_code, token.access_token, nonce):
        assert secret not in stored


def test_offer_for_another_agencys_citizen_is_not_found(session: Session, citizen: str) -> None:
    with pytest.raises(CitizenNotFound):
        offers.create_offer(session, citizen, agency_id="ca-q1", now=NOW, rng=seeded())
    with pytest.raises(CitizenNotFound):
        offers.create_offer(session, "nope", agency_id=AGENCY, now=NOW, rng=seeded())


def test_tx_code_has_no_modulo_bias() -> None:
    # 2**32 - 1 lies in the last, partial block of a million: it is drawn again, not folded onto a low code.
    draws = iter([(2**32 - 1).to_bytes(4, "big"), (1_234_567).to_bytes(4, "big")])
    assert offers._tx_code(lambda n: next(draws)) == "234567"
    assert offers._tx_code(lambda n: (42).to_bytes(4, "big")) == "000042"


def test_offer_links_escape_the_offer_uri() -> None:
    links = offers.offer_links(PU + "/", "abc_-")
    assert links.credential_offer_uri == PU + "/oid4vci/offers/abc_-"
    assert (
        links.offer_uri
        == "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.hcmc.example%2Foid4vci%2Foffers%2Fabc_-"
    )
    assert (
        links.wallet_url == PU + "/wallet#credential_offer_uri=https%3A%2F%2Fid.hcmc.example%2Foid4vci%2Foffers%2Fabc_-"
    )


def test_offer_document_names_the_issuer_and_the_code(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    doc = offers.credential_offer(session, offer.id, issuer=PU, now=NOW)
    assert doc["grants"][offers.PRE_AUTHORIZED_GRANT]["pre-authorized_code"] == _code(offer)
    with pytest.raises(Oid4vciError) as gone:
        offers.credential_offer(session, offer.id, issuer=PU, now=NOW + offers.OFFER_TTL)
    assert (gone.value.status, gone.value.error) == (404, "invalid_request")


# ------------------------------------------------------------------------------------------ tx_code and the token
def test_tx_code_attempt_limit(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    wrong = "000000" if offer.tx_code != "000000" else "111111"
    said = []
    for _ in range(offers.MAX_TX_CODE_ATTEMPTS):
        with pytest.raises(Oid4vciError) as info:
            tokens.redeem_pre_authorized_code(session, _code(offer), wrong, now=NOW)
        said.append(info.value.description)
    assert said[0] == "wrong transaction code, 4 tries left" and said[3] == "wrong transaction code, 1 try left"
    assert said[4] == offers.DEAD
    with pytest.raises(Oid4vciError) as info:
        tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=NOW)
    assert (info.value.error, info.value.description) == ("invalid_grant", offers.DEAD)
    assert session.exec(select(OfferRow)).one().attempts == offers.MAX_TX_CODE_ATTEMPTS


def test_missing_tx_code_is_not_an_attempt(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    for missing in (None, ""):
        with pytest.raises(Oid4vciError) as info:
            tokens.redeem_pre_authorized_code(session, _code(offer), missing, now=NOW)
        assert info.value.error == "invalid_request"
    assert session.exec(select(OfferRow)).one().attempts == 0


def test_redeeming_marks_the_offer_used_and_gives_back_the_try(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    issued = tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=NOW, rng=seeded(3))
    assert issued.expires_in == 300 and issued.access_token not in repr(issued)
    row = session.exec(select(OfferRow)).one()
    assert row.used_at is not None and row.attempts == 0
    with pytest.raises(Oid4vciError) as info:
        tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=NOW)
    assert info.value.description == offers.GONE


def test_offer_expires_after_ten_minutes(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    late = NOW + offers.OFFER_TTL
    with pytest.raises(Oid4vciError) as info:
        tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=late)
    assert info.value.description == offers.GONE
    just_in_time = late - timedelta(seconds=1)
    assert tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=just_in_time).access_token


# ------------------------------------------------------------------------------------------------ access tokens
def test_access_token_is_good_for_one_credential_within_five_minutes(session: Session, citizen: str) -> None:
    offer = offers.create_offer(session, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
    token = tokens.redeem_pre_authorized_code(session, _code(offer), offer.tx_code, now=NOW).access_token
    grant = tokens.access_grant(session, token, now=NOW + timedelta(seconds=299))
    assert (grant.citizen_id, grant.agency_id) == (citizen, AGENCY)
    with pytest.raises(Oid4vciError) as expired:
        tokens.access_grant(session, token, now=NOW + tokens.ACCESS_TOKEN_TTL)
    assert (expired.value.status, expired.value.error) == (401, "invalid_token")
    tokens.spend_access_token(session, grant, "cred-1", now=NOW)
    with pytest.raises(Oid4vciError):
        tokens.spend_access_token(session, grant, "cred-2", now=NOW)
    with pytest.raises(Oid4vciError) as spent:
        tokens.access_grant(session, token, now=NOW)
    assert "already used" in spent.value.description
    for bad in (None, "", "nope"):
        with pytest.raises(Oid4vciError):
            tokens.access_grant(session, bad, now=NOW)


# ---------------------------------------------------------------------------------------------------------- nonces
def test_c_nonce_is_single_use_and_expires(session: Session) -> None:
    nonce = tokens.new_nonce(session, now=NOW, rng=seeded())
    assert tokens.consume_nonce(session, nonce, now=NOW)
    assert not tokens.consume_nonce(session, nonce, now=NOW)
    late = tokens.new_nonce(session, now=NOW, rng=seeded(2))
    assert not tokens.consume_nonce(session, late, now=NOW + tokens.NONCE_TTL)
    assert not tokens.consume_nonce(session, "made-up", now=NOW)


def test_expired_nonces_are_swept(session: Session) -> None:
    for seed in range(3):
        tokens.new_nonce(session, now=NOW, rng=seeded(seed))
    tokens.new_nonce(session, now=NOW + tokens.NONCE_TTL, rng=seeded(9))
    assert len(session.exec(select(NonceRow)).all()) == 1


# ----------------------------------------------------------------------------------------------------------- proof
def _proof(**kw: Any) -> str:
    key = kw.pop("key", None) or P256Key.generate()
    args: dict[str, Any] = {"aud": PU, "nonce": "n", "iat": int(NOW.timestamp()), **kw}
    return proof_jwt(key, **args)


def test_a_good_proof_gives_the_holder_key_and_nonce() -> None:
    key = P256Key.generate()
    holder = proof.check_proof(_proof(key=key, nonce="n-1"), audience=PU, now=NOW)
    assert holder.jwk == key.public_jwk() and holder.nonce == "n-1"
    assert proof.check_proof(_proof(aud=["x", PU]), audience=PU, now=NOW).nonce == "n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"aud": "https://other.example"},
        {"typ": "JWT"},
        {"alg": "ES384"},
        {"jwk": None},
        {"header": {"jku": "https://evil.example/jwks"}},
        {"iat": True},
        {"iat": int(NOW.timestamp()) - 301},
    ],
    ids=["aud", "typ", "alg", "no_jwk", "jku", "bool_iat", "stale_iat"],
)
def test_bad_proofs_are_invalid_proof(kwargs: dict[str, Any]) -> None:
    with pytest.raises(Oid4vciError) as info:
        proof.check_proof(_proof(**kwargs), audience=PU, now=NOW)
    assert info.value.error == "invalid_proof"


def test_a_tampered_proof_is_refused() -> None:
    head, _, sig = _proof().split(".")
    other_body = _proof(aud=PU, nonce="other").split(".")[1]
    with pytest.raises(Oid4vciError, match="signature"):
        proof.check_proof(f"{head}.{other_body}.{sig}", audience=PU, now=NOW)
    for junk in ("", "a.b", "x" * 9000, 7):
        with pytest.raises(Oid4vciError, match="not a compact JWT"):
            proof.check_proof(junk, audience=PU, now=NOW)


# ------------------------------------------------------------------------------------------- issuer identifiers
@pytest.mark.parametrize(
    ("iss", "agency"),
    [
        ("ca-hcm", "ca-hcm"),
        ("https://id.hcmc.example/agencies/ca-hcm", "ca-hcm"),
        ("http://127.0.0.1:8000/agencies/ca-hcm", "ca-hcm"),
        ("https://gov.example/xacthuc/agencies/ca-q1", "ca-q1"),
        ("https://id.hcmc.example/agencies/", "https://id.hcmc.example/agencies/"),
        ("https://id.hcmc.example/agencies/a/b", "https://id.hcmc.example/agencies/a/b"),
        ("https://id.hcmc.example/agencies/a?b=c", "https://id.hcmc.example/agencies/a?b=c"),
        ("https://id.hcmc.example/agencies/a#b", "https://id.hcmc.example/agencies/a#b"),
        ("ftp://id.hcmc.example/agencies/a", "ftp://id.hcmc.example/agencies/a"),
        ("https:///agencies/a", "https:///agencies/a"),
        ("https://id.hcmc.example/other/a", "https://id.hcmc.example/other/a"),
        ("https://[::1/agencies/a", "https://[::1/agencies/a"),
    ],
)
def test_issuer_agency_id(iss: str, agency: str) -> None:
    assert service.issuer_agency_id(iss) == agency


def test_credential_issuer_round_trips() -> None:
    assert service.credential_issuer(PU + "/", AGENCY) == PU + "/agencies/ca-hcm"
    assert service.issuer_agency_id(service.credential_issuer(PU, AGENCY)) == AGENCY


def test_issue_credential_refuses_an_iss_naming_another_agency(
    session: Session, citizen: str, issuer_signer: TestSigner
) -> None:
    with pytest.raises(ValueError, match="iss"):
        service.issue_credential(
            session, citizen, issuer_signer, AGENCY, None, NOW, status_base_url=STATUS_BASE, iss=PU + "/agencies/x"
        )


# ----------------------------------------------------------------------------------------------------- races
def _race(engine: Engine, n: int, attempt: Callable[[Session], str]) -> list[str]:
    """``n`` threads, each in its own session and transaction, start ``attempt`` together; their outcomes."""
    barrier = threading.Barrier(n)

    def run() -> str:
        with Session(engine) as s:
            barrier.wait(timeout=30)
            try:
                outcome = attempt(s)
            except Oid4vciError as exc:
                s.commit()  # as the route does: a wrong code counts
                return exc.description
            s.commit()
            return outcome

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: run(), range(n)))


def test_racing_redemptions_get_one_token(engine: Engine) -> None:
    with Session(engine) as s:
        citizen = service.register_citizen(s, CITIZEN, NOW, agency_id=AGENCY).id
        offer = offers.create_offer(s, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
        s.commit()
    outcomes = _race(
        engine, 6, lambda s: tokens.redeem_pre_authorized_code(s, _code(offer), offer.tx_code, now=NOW).access_token
    )
    assert sorted(o == offers.GONE for o in outcomes) == [False] + [True] * 5, outcomes
    with Session(engine) as s:
        assert len(s.exec(select(AccessTokenRow)).all()) == 1


def test_racing_wrong_codes_get_no_more_than_five_tries(engine: Engine) -> None:
    with Session(engine) as s:
        citizen = service.register_citizen(s, CITIZEN, NOW, agency_id=AGENCY).id
        offer = offers.create_offer(s, citizen, agency_id=AGENCY, now=NOW, rng=seeded())
        s.commit()
    wrong = "000000" if offer.tx_code != "000000" else "111111"
    outcomes = _race(
        engine, 12, lambda s: tokens.redeem_pre_authorized_code(s, _code(offer), wrong, now=NOW).access_token
    )
    tried = [o for o in outcomes if o.startswith("wrong transaction code")]
    assert len(tried) == 4 and outcomes.count(offers.DEAD) == 8, outcomes
    with Session(engine) as s:
        assert s.exec(select(OfferRow)).one().attempts == offers.MAX_TX_CODE_ATTEMPTS
