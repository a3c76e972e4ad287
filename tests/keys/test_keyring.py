from __future__ import annotations

from datetime import timedelta

import pytest

from keys.errors import KeyCompromised, KeyNotValidAt, KeystoreCorrupt, NoActiveKey, UnknownKey
from keys.jws import sign_jws, verify_jws
from keys.keyring import ROTATION_OVERLAP, KeyRing
from keys.keystore import Keystore

from .conftest import NOW, PASSPHRASE

DAY = timedelta(days=1)


def _receipt(ring: KeyRing, at_offset: timedelta) -> tuple[str, str]:
    signer = ring.signer(NOW + at_offset)
    return sign_jws(signer, {"iss": ring.agency_id, "sha256": "ab" * 32}), signer.kid


def _verify(ring: KeyRing, token: str, signed_at_offset: timedelta, anchored_offset: timedelta | None = None) -> None:
    verified = verify_jws(token, ring)
    anchored = None if anchored_offset is None else NOW + anchored_offset
    ring.verify_key(verified.header["kid"], NOW + signed_at_offset, anchored)


def test_receipt_signed_before_rotation_verifies_after_it(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW)
    token, old_kid = _receipt(ring, DAY)
    new = ring.rotate(NOW + 2 * DAY)
    reloaded = KeyRing.load(Keystore.open(keystore.root, PASSPHRASE), "ubnd-hcm")
    _verify(reloaded, token, DAY)
    assert reloaded.signer(NOW + 3 * DAY).kid == new.kid != old_kid
    old = reloaded.get(old_kid)
    assert old is not None and old.status == "retired" and old.not_after == NOW + 2 * DAY + ROTATION_OVERLAP


def test_key_used_outside_its_window_rejected(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW)
    token, _ = _receipt(ring, DAY)
    ring.rotate(NOW + 2 * DAY)
    with pytest.raises(KeyNotValidAt):
        _verify(ring, token, 3 * DAY)  # the old key claims a signature after its retirement
    with pytest.raises(KeyNotValidAt):
        _verify(ring, token, -DAY)  # ... or before it existed


def test_a_signature_by_a_ring_loaded_just_before_a_rotation_still_verifies(keystore: Keystore) -> None:
    """Another process (the server) holds the ring from before a CLI rotation and signs once more with the old key:
    that signature stays valid, while the reloaded ring signs with the new key at once."""
    stale = KeyRing.create(keystore, "ubnd-hcm", NOW)
    ring = KeyRing.load(Keystore.open(keystore.root, PASSPHRASE), "ubnd-hcm")
    new = ring.rotate(NOW + DAY).kid
    old = stale.signer(NOW + DAY + timedelta(seconds=5)).kid
    assert old != new and ring.signer(NOW + DAY).kid == new
    ring.verify_key(old, NOW + DAY + timedelta(seconds=5))
    ring.verify_key(new, NOW + DAY)
    with pytest.raises(KeyNotValidAt):
        ring.verify_key(old, NOW + DAY + ROTATION_OVERLAP)  # the overlap ends; later signatures are refused


def test_compromised_key_rejected_unless_anchored_before_compromise(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW)
    token, kid = _receipt(ring, DAY)
    ring.compromise(kid, NOW + 5 * DAY, now=NOW + 6 * DAY)
    with pytest.raises(KeyCompromised):
        _verify(ring, token, DAY)  # no independent timestamp: the thief could have backdated it
    with pytest.raises(KeyCompromised):
        _verify(ring, token, DAY, anchored_offset=7 * DAY)  # anchored after the compromise
    with pytest.raises(KeyCompromised):
        _verify(ring, token, DAY, anchored_offset=5 * DAY)  # at the compromise instant is too late
    _verify(ring, token, DAY, anchored_offset=DAY + timedelta(minutes=1))
    with pytest.raises(NoActiveKey):
        ring.signer(NOW + 6 * DAY)


def test_retire_keeps_old_signatures(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW, alg="EdDSA")
    token, kid = _receipt(ring, DAY)
    ring.retire(kid, NOW + 2 * DAY)
    _verify(ring, token, DAY)
    with pytest.raises(NoActiveKey):
        ring.signer(NOW + 3 * DAY)
    assert ring.rotate(NOW + 3 * DAY).alg == "EdDSA"


def test_unknown_kid_rejected(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW)
    with pytest.raises(UnknownKey):
        ring.verify_key("not-a-kid", NOW)
    assert ring.resolve("ca-hcm", ring.signer(NOW).kid) is None


def test_concurrent_ring_objects_do_not_lose_updates(keystore: Keystore) -> None:
    a = KeyRing.create(keystore, "ubnd-hcm", NOW)
    b = KeyRing.load(keystore, "ubnd-hcm")
    a.rotate(NOW + DAY)
    b.rotate(NOW + 2 * DAY)  # b reloads under the lock, so a's rotation survives
    assert len(KeyRing.load(keystore, "ubnd-hcm").keys) == 3


def test_tampered_ring_metadata_detected(keystore: Keystore) -> None:
    ring = KeyRing.create(keystore, "ubnd-hcm", NOW)
    kid = ring.signer(NOW).kid
    ring.compromise(kid, NOW, NOW)
    path = keystore.root / "records" / "ring-ubnd-hcm.json"
    path.write_text(path.read_text().replace('"compromised"', '"active"'))
    with pytest.raises(KeystoreCorrupt):
        KeyRing.load(keystore, "ubnd-hcm")
