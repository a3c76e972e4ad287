"""Issue 8 item 5: a rotated key is published before it signs, and verifiers holding an older trust list refresh it,
rate-limited, when they meet a key they do not know (instead of answering ``untrusted`` until a cache expires)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from keys.bootstrap import City
from keys.keystore import Keystore
from keys.trust_list import RefreshingTrustList, TrustList, verify_trust_list
from ledger.chain.proof import DocumentChainStatus
from ledger.documents.receipt import sign_receipt
from tests.ledger.test_receipt_fixtures import REGISTRY, fields
from verifier.document import verify_document
from verifier.report import Verdict

from .conftest import NOW, PASSPHRASE

AGENCY = "ubnd-hcm"


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


class Source:
    """A publisher whose list the test changes; counts the fetches."""

    def __init__(self, city: City, clock: Clock) -> None:
        self.city, self.clock = city, clock
        self.fetches = 0
        self.fail = False
        self.token: str | None = None  # a fixed answer instead of a fresh build

    def __call__(self) -> str:
        self.fetches += 1
        if self.fail:
            raise ConnectionError("the publisher is unreachable")
        return self.token or self.city.build_trust_list(self.clock())


def _other_process(city: City) -> City:
    """The same data dir opened again, as ``xacthuc keys rotate`` in another process would."""
    return City(city.data_dir, Keystore.open(city.data_dir / "keys", PASSPHRASE))


def _listed(city: City, now: datetime) -> TrustList:
    return verify_trust_list(city.build_trust_list(now), city.root_jwk(), now)


def test_keystore_generation_moves_when_another_process_rotates(city: City) -> None:
    before = city.keystore.generation()
    assert before == city.keystore.generation()  # stable while nothing changes
    _other_process(city).keyring(AGENCY).rotate(NOW + timedelta(hours=1))
    assert city.keystore.generation() != before


def test_rotated_key_is_in_the_published_trust_list_before_it_signs(city: City) -> None:
    later = NOW + timedelta(hours=1)
    new = _other_process(city).keyring(AGENCY).rotate(later)
    signing = city.keyring(AGENCY).signer(later)  # what the server signs with from now on
    assert signing.kid == new.kid
    assert _listed(city, later).resolve(AGENCY, signing.kid) is not None


def test_a_rotation_whose_save_fails_never_signs_with_the_unpublished_key(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = city.keyring(AGENCY)
    old = ring.signer(NOW).kid

    def broken(name: str, data: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ring.keystore, "write_record", broken)
    with pytest.raises(OSError):
        ring.rotate(NOW + timedelta(hours=1))
    monkeypatch.undo()
    assert ring.signer(NOW + timedelta(hours=1)).kid == old  # the object did not keep the new key
    assert city.keyring(AGENCY).signer(NOW + timedelta(hours=1)).kid == old
    assert {k.kid for k in ring.keys} == {k.kid for k in city.keyring(AGENCY).keys}


def test_unknown_kid_from_known_issuer_refreshes_once_then_resolves(city: City) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=_listed(city, NOW))
    clock.t = NOW + timedelta(hours=1)
    new = _other_process(city).keyring(AGENCY).rotate(clock.t)
    key = trust.resolve(AGENCY, new.kid)
    assert key is not None and key.kid == new.kid and key.issuer_id == AGENCY
    assert source.fetches == 1
    assert trust.resolve(AGENCY, new.kid) is not None and source.fetches == 1  # now held: no more fetches


def test_agency_created_after_the_list_is_found_by_one_refresh(city: City, session: Session) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=_listed(city, NOW))
    other = _other_process(city)
    other.provision_agency(session, name="UBND Quận 3", roles=["documents"], now=NOW, agency_id="ubnd-q3")
    kid = other.keyring("ubnd-q3").signer(NOW).kid
    assert trust.resolve("ubnd-q3", kid) is not None
    assert source.fetches == 1


def test_made_up_kids_do_not_refresh_more_than_the_rate_limit(city: City) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(
        source, city.root_jwk(), clock, initial=_listed(city, NOW), refresh_interval=timedelta(seconds=10)
    )
    for i in range(50):
        assert trust.resolve(AGENCY, f"made-up-kid-{i}") is None
    assert source.fetches == 1  # one refresh for the listed issuer
    for i in range(50):
        assert trust.resolve(f"made-up-issuer-{i}", "kid") is None
    assert source.fetches == 2  # unlisted issuers share one allowance
    clock.t += timedelta(seconds=9)
    trust.resolve(AGENCY, "another-made-up-kid")
    assert source.fetches == 2
    clock.t += timedelta(seconds=1)
    trust.resolve(AGENCY, "another-made-up-kid")
    assert source.fetches == 3  # the interval has passed: one more


def test_each_listed_issuer_has_its_own_allowance(city: City) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=_listed(city, NOW))
    trust.resolve(AGENCY, "made-up")
    trust.resolve("ca-hcm", "made-up")
    trust.resolve(AGENCY, "made-up-2")
    assert source.fetches == 2


def test_a_refresh_never_installs_an_older_list(city: City) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    old_token = city.build_trust_list(NOW)
    new = city.keyring(AGENCY).rotate(NOW + timedelta(minutes=1))
    clock.t = NOW + timedelta(minutes=1)
    current = _listed(city, clock.t)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=current)
    source.token = old_token  # a replayed (or stale cached) older list
    assert trust.resolve(AGENCY, "made-up") is None
    assert source.fetches == 1
    assert trust.current().version == current.version
    assert trust.resolve(AGENCY, new.kid) is not None


def test_a_failed_refresh_keeps_the_held_list_and_says_so(city: City, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    held = _listed(city, NOW)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=held)
    source.fail = True
    with caplog.at_level(logging.WARNING, logger="keys.trust_list"):
        assert trust.resolve(AGENCY, "made-up") is None
    assert "ConnectionError" in caplog.text
    assert trust.current() is held


def test_generation_change_rebuilds_the_list_without_waiting_for_its_age(city: City) -> None:
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(
        source, city.root_jwk(), clock, max_age=timedelta(seconds=30), generation=city.keystore.generation
    )
    first = trust.current()
    assert trust.current() is first and source.fetches == 1  # unchanged keystore: no rebuild
    new = _other_process(city).keyring(AGENCY).rotate(NOW)
    assert trust.current().resolve(AGENCY, new.kid) is not None
    assert source.fetches == 2
    clock.t += timedelta(seconds=30)
    trust.current()
    assert source.fetches == 3  # and the age bound still holds


class _Unanchored:
    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        return DocumentChainStatus(anchorer=None, anchored_at=None)


def test_receipt_with_a_rotated_short_kid_verifies_after_one_refresh(city: City) -> None:
    """The document pipeline resolves 8-byte kids through ``keys_for``: it too refreshes once, then decides."""
    clock = Clock(NOW)
    source = Source(city, clock)
    trust = RefreshingTrustList(source, city.root_jwk(), clock, initial=_listed(city, NOW))
    later = NOW + timedelta(hours=1)
    clock.t = later
    ring = _other_process(city).keyring(AGENCY)
    ring.rotate(later)
    receipt = sign_receipt(ring.signer(later), fields(issuer_id=AGENCY, issued_at=later))

    def verify() -> dict[str, str]:
        report = verify_document(
            receipt, resolver=trust, proof_source=lambda leaf: None, chain=_Unanchored(), now=later, registry=REGISTRY
        )
        assert report.verdict is Verdict.PENDING  # signed by a trusted key, just not anchored yet
        return {c.name: c.status.value for c in report.checks}

    checks = verify()
    assert checks["issuer_trusted"] == "valid" and checks["signature"] == "valid"
    assert source.fetches == 1
    verify()
    assert source.fetches == 1


def test_without_a_refresh_the_rotated_key_is_untrusted(city: City) -> None:
    """The defect itself: a verifier holding the pre-rotation list and no way to refresh answers untrusted."""
    later = NOW + timedelta(hours=1)
    held = _listed(city, NOW)
    ring = city.keyring(AGENCY)
    ring.rotate(later)
    receipt = sign_receipt(ring.signer(later), fields(issuer_id=AGENCY, issued_at=later))
    report = verify_document(
        receipt, resolver=held, proof_source=lambda leaf: None, chain=_Unanchored(), now=later, registry=REGISTRY
    )
    assert report.verdict is Verdict.UNTRUSTED
