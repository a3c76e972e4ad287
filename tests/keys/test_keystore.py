from __future__ import annotations

import json
import logging
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import KeyNotFound, KeystoreCorrupt, KeystoreExists, KeystoreUnlockFailed
from keys.generate import generate_eth_account, generate_signing_key
from keys.jwk import jwk_thumbprint
from keys.jws import sign_jws, verify_jws
from keys.keystore import TEST_KDF, Keystore, Passphrase, dev_passphrase, passphrase_from_file

from .conftest import PASSPHRASE

KEYSTORE_V1 = Path(__file__).parents[1] / "vectors" / "keys" / "keystore-v1"


@settings(max_examples=12, deadline=None)
@given(
    alg=st.sampled_from(["ES256", "EdDSA"]),
    passphrase=st.text(min_size=8, max_size=40).filter(lambda s: "\x00" not in s),
    message=st.binary(max_size=200),
)
def test_keystore_round_trip(alg: str, passphrase: str, message: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "keys"
        signer = generate_signing_key(alg)
        Keystore.create(root, passphrase, kdf=TEST_KDF).save_signer(signer)
        loaded = Keystore.open(root, passphrase).load_signer(signer.kid)
        assert loaded.kid == signer.kid and loaded.alg == alg
        assert loaded.public_jwk() == signer.public_jwk()
        assert verify_jws(sign_jws(loaded, message), signer.public_jwk()).payload == message


def test_eth_account_round_trip(keystore: Keystore) -> None:
    account = generate_eth_account()
    address = keystore.save_eth_account("ubnd-hcm", bytes(account.key))
    assert address == account.address
    reopened = Keystore.open(keystore.root, PASSPHRASE)
    assert reopened.eth_address("ubnd-hcm") == account.address
    assert reopened.load_eth_account("ubnd-hcm").key == account.key
    doc = json.loads((keystore.root / "eth" / "ubnd-hcm.json").read_text())
    assert doc["version"] == 3 and doc["crypto"]["kdf"] == "scrypt"  # Web3 Secret Storage


def test_files_are_private(keystore: Keystore) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    keystore.save_eth_account("a", bytes(generate_eth_account().key))
    keystore.write_record("r", {"x": 1})
    for path in keystore.root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(keystore.root.stat().st_mode) == 0o700
    assert not list(keystore.root.rglob("*.tmp"))


def test_wrong_passphrase_is_one_opaque_error(keystore: Keystore, caplog: pytest.LogCaptureFixture) -> None:
    keystore.save_signer(generate_signing_key())
    wrong = "Tr0ub4dor&3-not-it"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(KeystoreUnlockFailed) as info:
        Keystore.open(keystore.root, wrong)
    assert info.value.code == "KEYSTORE_UNLOCK_FAILED"
    assert str(info.value) == "Unlocking the keystore failed"
    for text in (str(info.value), repr(info.value), caplog.text):
        assert wrong not in text and PASSPHRASE not in text


def _flip_in_ciphertext(path: Path, field: str = "ciphertext") -> None:
    doc = json.loads(path.read_text())
    value = doc[field]
    doc[field] = ("B" if value[5] == "A" else "A").join([value[:5], value[6:]])
    path.write_text(json.dumps(doc))


def test_tampered_signature_key_file_is_corrupt(keystore: Keystore, caplog: pytest.LogCaptureFixture) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    _flip_in_ciphertext(keystore.root / "sig" / f"{signer.kid}.json")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(KeystoreCorrupt) as info:
        Keystore.open(keystore.root, PASSPHRASE).load_signer(signer.kid)
    assert info.value.code == "KEYSTORE_CORRUPT"
    assert PASSPHRASE not in str(info.value) and PASSPHRASE not in caplog.text


def test_swapped_alg_in_key_header_is_corrupt(keystore: Keystore) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    path = keystore.root / "sig" / f"{signer.kid}.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "alg": "EdDSA"}))
    with pytest.raises(KeystoreCorrupt):
        Keystore.open(keystore.root, PASSPHRASE).load_signer(signer.kid)


@pytest.mark.parametrize("keep", [0, 10, 100])
def test_truncated_key_file_is_corrupt(keystore: Keystore, keep: int) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    path = keystore.root / "sig" / f"{signer.kid}.json"
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(KeystoreCorrupt):
        Keystore.open(keystore.root, PASSPHRASE).load_signer(signer.kid)


def test_tampered_eth_file_is_corrupt(keystore: Keystore) -> None:
    keystore.save_eth_account("ca-hcm", bytes(generate_eth_account().key))
    path = keystore.root / "eth" / "ca-hcm.json"
    doc = json.loads(path.read_text())
    first = "ff" if doc["address"][:2] == "00" else "00"  # always a change (an address may begin with 00)
    doc["address"] = first + doc["address"][2:]
    path.write_text(json.dumps(doc))
    reopened = Keystore.open(keystore.root, PASSPHRASE)
    with pytest.raises(KeystoreCorrupt):
        reopened.eth_address("ca-hcm")
    with pytest.raises(KeystoreCorrupt):
        reopened.load_eth_account("ca-hcm")


def test_tampered_record_is_corrupt(keystore: Keystore) -> None:
    keystore.write_record("ring-x", {"status": "compromised"})
    path = keystore.root / "records" / "ring-x.json"
    path.write_text(path.read_text().replace("compromised", "active"))
    with pytest.raises(KeystoreCorrupt):
        keystore.read_record("ring-x")


def test_record_cannot_be_moved_to_another_name(keystore: Keystore) -> None:
    keystore.write_record("ring-a", {"k": 1})
    (keystore.root / "records" / "ring-b.json").write_bytes((keystore.root / "records" / "ring-a.json").read_bytes())
    with pytest.raises(KeystoreCorrupt):
        keystore.read_record("ring-b")


def test_tampered_keystore_header_is_corrupt(keystore: Keystore) -> None:
    path = keystore.root / "keystore.json"
    doc = json.loads(path.read_text())
    doc["kdf"]["n"] = 2**11
    path.write_text(json.dumps(doc))
    with pytest.raises(KeystoreCorrupt):
        Keystore.open(keystore.root, PASSPHRASE)


def test_missing_key_and_existing_keystore(keystore: Keystore) -> None:
    with pytest.raises(KeyNotFound):
        keystore.load_signer("nope")
    with pytest.raises(KeystoreExists):
        Keystore.create(keystore.root, PASSPHRASE, kdf=TEST_KDF)


def test_dev_passphrase_is_stable_private_and_flagged(tmp_path: Path) -> None:
    first = dev_passphrase(tmp_path)
    assert first.dev_mode and len(first.value) >= 32
    assert dev_passphrase(tmp_path).value == first.value
    assert stat.S_IMODE((tmp_path / "dev-passphrase").stat().st_mode) == 0o600
    assert first.value not in repr(first) and first.value not in str(first)


def test_passphrase_from_file(tmp_path: Path) -> None:
    (tmp_path / "pp").write_text(PASSPHRASE + "\n")
    pp = passphrase_from_file(tmp_path / "pp")
    assert isinstance(pp, Passphrase) and pp.value == PASSPHRASE and not pp.dev_mode


def test_signature_keys_sealed_before_keys_sealing_still_open(tmp_path: Path) -> None:
    """keys.sealing is the keystore's own envelope: files written by the keystore before it existed load unchanged."""
    root = tmp_path / "keys"
    shutil.copytree(KEYSTORE_V1, root)
    keystore = Keystore.open(root, "vector passphrase")
    assert keystore.signer_kids() == sorted(p.stem for p in (KEYSTORE_V1 / "sig").glob("*.json"))
    for kid in keystore.signer_kids():
        signer = keystore.load_signer(kid)
        assert signer.kid == kid == jwk_thumbprint(signer.public_jwk())
        assert verify_jws(sign_jws(signer, b"x"), signer.public_jwk()).payload == b"x"


def test_signature_key_file_keeps_its_format(keystore: Keystore) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    doc = json.loads((keystore.root / "sig" / f"{signer.kid}.json").read_text())
    assert sorted(doc) == ["alg", "ciphertext", "format", "kid", "nonce", "salt"]
    assert doc["format"] == "xacthuc-sigkey/1" and doc["kid"] == signer.kid


def test_extra_member_in_key_file_is_corrupt(keystore: Keystore) -> None:
    signer = generate_signing_key()
    keystore.save_signer(signer)
    path = keystore.root / "sig" / f"{signer.kid}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "note": "x"}))
    with pytest.raises(KeystoreCorrupt):
        Keystore.open(keystore.root, PASSPHRASE).load_signer(signer.kid)
