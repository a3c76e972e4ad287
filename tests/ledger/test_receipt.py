"""Signed receipts and the XD1 payload: signing, tampering, the commitment, and a strict, total decoder."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_receipt_fixtures import EDDSA_SIGNER, ES256_SIGNER, REGISTRY, T0, FixedSigner, fields

from keys.generate import generate_signing_key
from ledger.documents.errors import (
    PayloadInvalid,
    PayloadTooLarge,
    PayloadVersionUnsupported,
    ReceiptFieldInvalid,
    RegistryUnknown,
    SignerUnsupported,
)
from ledger.documents.receipt import (
    MAX_PAYLOAD_CHARS,
    Receipt,
    Registry,
    b43decode,
    b43encode,
    commitment,
    decode_payload,
    document_id_from_str,
    document_id_str,
    encode_payload,
    new_document_id,
    sign_receipt,
    sign_receipt_with_commitment,
    signed_bytes,
    verify_link,
    verify_signature,
)


@pytest.mark.parametrize("signer", [ES256_SIGNER, EDDSA_SIGNER], ids=["ES256", "EdDSA"])
def test_sign_and_verify(signer: FixedSigner) -> None:
    r = sign_receipt(signer, fields())
    assert r.kid == base64.urlsafe_b64decode(signer.kid + "=")[:8]
    assert verify_signature(r, signer.alg, signer.jwk)


def test_project_signer_interoperates() -> None:
    signer = generate_signing_key("ES256")
    r = sign_receipt(signer, fields())
    assert verify_signature(r, "ES256", signer.public_jwk())


def test_full_kid_option() -> None:
    r = sign_receipt(ES256_SIGNER, fields(), short_kid=False)
    assert base64.urlsafe_b64encode(r.kid).rstrip(b"=").decode() == ES256_SIGNER.kid
    assert decode_payload(encode_payload(r)) == r


@pytest.mark.parametrize(
    "change",
    [
        {"issuer_id": "ubnd-q1"},
        {"document_id": bytes(16)},
        {"file_sha256": bytes(32)},
        {"metadata_digest": bytes(32)},
        {"issued_at": T0 + timedelta(seconds=1)},
        {"registry": Registry(1, REGISTRY.address)},
        {"registry": Registry(REGISTRY.chain_id, bytes(20))},
        {"number": "2393/QĐ-UBND"},
        {"issued_on": date(2024, 7, 16)},
        {"kid": bytes(8)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_tampering_any_signed_field_breaks_the_signature(change: dict[str, object]) -> None:
    r = sign_receipt(ES256_SIGNER, fields())
    tampered = replace(r, **change)  # type: ignore[arg-type]
    assert not verify_signature(tampered, "ES256", ES256_SIGNER.jwk)
    assert commitment(tampered) != commitment(r)


def test_alg_confusion_the_trusted_alg_decides() -> None:
    # An Ed25519 signature checked as ES256 (or with "none"/HS256) never verifies.
    r = sign_receipt(EDDSA_SIGNER, fields())
    assert not verify_signature(r, "ES256", EDDSA_SIGNER.jwk)
    for alg in ("none", "HS256", "RS256", ""):
        assert not verify_signature(r, alg, EDDSA_SIGNER.jwk)
    assert not verify_signature(r, "EdDSA", {"kty": "OKP", "crv": "Ed25519", "x": "!!"})


def test_commitment_is_sha256_of_signed_bytes_and_ignores_the_signature() -> None:
    a = sign_receipt(ES256_SIGNER, fields())
    b = replace(a, signature=bytes(64))
    assert commitment(a) == commitment(b) == hashlib.sha256(signed_bytes(a)).digest()
    assert signed_bytes(a).startswith(b"xacthuc:receipt:v1")


@pytest.mark.parametrize("short_kid", [True, False])
def test_signing_with_the_commitment_gives_what_signing_then_committing_gives(short_kid: bool) -> None:
    later = fields(issued_at=T0.replace(microsecond=250_000))  # truncated before signing, in both paths
    receipt, leaf = sign_receipt_with_commitment(ES256_SIGNER, later, short_kid=short_kid)
    assert receipt == sign_receipt(ES256_SIGNER, later, short_kid=short_kid)  # FixedSigner: deterministic
    assert leaf == commitment(receipt)


def test_issued_at_is_truncated_to_seconds_and_utc() -> None:
    r = sign_receipt(ES256_SIGNER, fields(issued_at=T0.replace(microsecond=999).astimezone()))
    assert r.issued_at == T0 and r.issued_at.tzinfo is UTC


@pytest.mark.parametrize(
    "change",
    [
        {"document_id": b"short"},
        {"file_sha256": bytes(31)},
        {"issued_at": datetime(2024, 1, 1)},
        {"issuer_id": ""},
        {"issuer_id": "x" * 65},
        {"number": "12/QĐ-UBND-Ve\u0301"},  # NFD: must be NFC before signing
    ],
)
def test_sign_refuses_bad_fields(change: dict[str, object]) -> None:
    with pytest.raises(ReceiptFieldInvalid):
        sign_receipt(ES256_SIGNER, fields(**change))


def test_sign_refuses_unsupported_signers() -> None:
    class Weird(FixedSigner):
        pass

    s = Weird("ES256", bytes(range(1, 33)))
    s.alg = "HS256"
    with pytest.raises(SignerUnsupported):
        sign_receipt(s, fields())
    s = Weird("ES256", bytes(range(1, 33)))
    s.kid = "not-a-thumbprint"
    with pytest.raises(SignerUnsupported):
        sign_receipt(s, fields())


def test_registry_is_omitted_only_when_it_is_the_configured_one() -> None:
    r = sign_receipt(ES256_SIGNER, fields())
    short, full = encode_payload(r, registry=REGISTRY), encode_payload(r)
    assert len(short) < len(full)
    assert decode_payload(short, registry=REGISTRY) == r
    assert decode_payload(full) == r
    assert decode_payload(full, registry=Registry(5, bytes(20))) == r  # the payload's own registry wins
    with pytest.raises(RegistryUnknown):
        decode_payload(short)
    other = encode_payload(r, registry=Registry(1, REGISTRY.address))
    assert other == full


def test_uuid_issuer_is_compacted() -> None:
    u = str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF))
    r = sign_receipt(ES256_SIGNER, fields(issuer_id=u))
    assert decode_payload(encode_payload(r)) == r
    upper = sign_receipt(ES256_SIGNER, fields(issuer_id=u.upper()))  # not canonical: stays text
    assert decode_payload(encode_payload(upper)).issuer_id == u.upper()


def test_payload_is_qr_alphanumeric_and_url_fragment_safe() -> None:
    p = encode_payload(sign_receipt(ES256_SIGNER, fields()), registry=REGISTRY)
    assert set(p) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:")
    assert verify_link("https://xacthuc.hochiminhcity.gov.vn/", p) == "https://xacthuc.hochiminhcity.gov.vn/v#" + p


# ------------------------------------------------------------------------------------------------- properties
receipts = st.builds(
    Receipt,
    issuer_id=st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20).filter(
            lambda s: __import__("unicodedata").normalize("NFC", s) == s
        ),
        st.uuids().map(str),
    ),
    kid=st.one_of(st.binary(min_size=8, max_size=8), st.binary(min_size=32, max_size=32)),
    document_id=st.binary(min_size=16, max_size=16),
    file_sha256=st.binary(min_size=32, max_size=32),
    metadata_digest=st.binary(min_size=32, max_size=32),
    issued_at=st.integers(1, 253402300799).map(lambda s: datetime.fromtimestamp(s, UTC)),
    registry=st.builds(Registry, chain_id=st.integers(1, 2**63 - 1), address=st.binary(min_size=20, max_size=20)),
    number=st.sampled_from(["2392/QĐ-UBND", "15/2024/NĐ-CP", "12/UBND-VX", "x"]),
    issued_on=st.dates(),
    signature=st.binary(min_size=64, max_size=64),
)


@given(receipts, st.booleans())
def test_payload_round_trip(r: Receipt, omit: bool) -> None:
    registry = r.registry if omit else None
    text = encode_payload(r, registry=registry)
    assert len(text) <= MAX_PAYLOAD_CHARS
    assert decode_payload(text, registry=registry) == r


@given(st.binary(max_size=400))
def test_b43_round_trip(data: bytes) -> None:
    assert b43decode(b43encode(data)) == data


def _decode_or_typed_error(text: str) -> None:
    try:
        r = decode_payload(text, registry=REGISTRY)
    except PayloadInvalid:
        return
    assert encode_payload(r, registry=REGISTRY) == text  # whatever decodes is the canonical encoding


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_random_text_gives_typed_errors(text: str) -> None:
    _decode_or_typed_error(text)
    _decode_or_typed_error("XD1:" + text)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_binary_bodies_give_typed_errors(data: bytes) -> None:
    _decode_or_typed_error("XD1:" + b43encode(data))


@given(receipts, st.data())
def test_truncated_and_mutated_payloads_give_typed_errors(r: Receipt, data: st.DataObject) -> None:
    text = encode_payload(r)
    cut = data.draw(st.integers(0, len(text) - 1))
    _decode_or_typed_error(text[:cut])
    body = bytearray(b43decode(text[4:]))
    i = data.draw(st.integers(0, len(body) - 1))
    body[i] ^= data.draw(st.integers(1, 255))
    _decode_or_typed_error("XD1:" + b43encode(bytes(body)))


def test_oversized_payload_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        decode_payload("XD1:" + "0" * MAX_PAYLOAD_CHARS)
    assert info.value.http_status == 413


def test_unknown_version_and_foreign_prefix() -> None:
    with pytest.raises(PayloadVersionUnsupported):
        decode_payload("XD2:ABC")
    with pytest.raises(PayloadInvalid):
        decode_payload("XI1:ABC")
    with pytest.raises(PayloadInvalid):
        decode_payload(b"XD1:" + b"0" * 10)  # type: ignore[arg-type]


def test_non_canonical_encodings_refused() -> None:
    r = sign_receipt(ES256_SIGNER, fields())
    body = b43decode(encode_payload(r)[4:])
    with pytest.raises(PayloadInvalid, match="flags"):
        decode_payload("XD1:" + b43encode(bytes([body[0] | 0x80]) + body[1:]))
    with pytest.raises(PayloadInvalid, match="trailing"):
        decode_payload("XD1:" + b43encode(body + b"\x00"))
    # chain id 31337 as a padded varint: 0xE9 0xF4 0x81 0x00 instead of 0xE9 0xF4 0x01
    assert body[1:4] == bytes([0xE9, 0xF4, 0x01])
    padded = body[:3] + bytes([0x81, 0x00]) + body[4:]
    with pytest.raises(PayloadInvalid, match="non-canonical"):
        decode_payload("XD1:" + b43encode(padded))
    with pytest.raises(PayloadInvalid, match="alphabet"):
        decode_payload("XD1:" + "abc")
    with pytest.raises(PayloadInvalid, match="range"):
        decode_payload("XD1:" + ":::")  # 42 + 42*43 + 42*1849 > 0xFFFF


def test_document_ids_are_ulids() -> None:
    raw = new_document_id(T0, randbytes=lambda n: bytes(range(n)))
    assert raw[:6] == int(T0.timestamp() * 1000).to_bytes(6, "big")
    text = document_id_str(raw)
    assert len(text) == 26 and document_id_from_str(text.lower()) == raw
    assert document_id_str(new_document_id(T0 + timedelta(milliseconds=1))) > text
    for bad in ("", "8" + "0" * 25, "I" * 26):
        with pytest.raises(ReceiptFieldInvalid):
            document_id_from_str(bad)


@given(st.binary(min_size=16, max_size=16))
def test_document_id_text_is_the_ulid_crockford_form(raw: bytes) -> None:
    n = int.from_bytes(raw, "big")
    expected = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(n >> (5 * i)) & 31] for i in range(25, -1, -1))
    assert document_id_str(raw) == expected
    assert document_id_from_str(expected) == raw


def _uuid_by_the_library(issuer_id: str) -> bytes | None:
    try:
        u = uuid.UUID(issuer_id)
    except ValueError:
        return None
    return u.bytes if str(u) == issuer_id else None


_ISSUER_IDS = st.text() | st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, f"{{{u}}}", u.urn, f" {u}"])
)


@given(_ISSUER_IDS)
def test_an_issuer_id_is_carried_as_a_uuid_exactly_when_it_is_the_canonical_form(issuer_id: str) -> None:
    from ledger.documents.receipt import _uuid_bytes

    assert _uuid_bytes(issuer_id) == _uuid_by_the_library(issuer_id)
