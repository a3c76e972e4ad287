"""Acceptance tests for citizen ID verification: issue, present, verify, and each attack named for what it tries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from identity import service, transport
from identity.presentation import present
from identity.sdjwt import make_disclosure, split_compact
from keys.holder_key import P256Key
from tests.identity.conftest import (  # noqa: F401 (fixtures)
    CITIZEN,
    ISSUER,
    NOW,
    STATUS_BASE,
    DictResolver,
    TestSigner,
    issuer_signer,
    resolver,
    session,
)
from verifier.credential import verify_credential
from verifier.report import Report

AUD = "https://bank.example"


@dataclass
class World:
    session: Session
    signer: TestSigner
    resolver: DictResolver
    holder: P256Key
    credential_id: str
    credential: str
    status_now: Any = NOW

    def fetch_status(self, uri: str) -> str:
        list_id = uri.rsplit("/", 1)[1]
        return service.status_list_token(
            self.session, list_id, self.signer, status_base_url=STATUS_BASE, now=self.status_now
        )

    def verify(self, text: str, **kw: Any) -> Report:
        kw.setdefault("audience", AUD)
        kw.setdefault("now", NOW)
        now = kw.pop("now")
        return verify_credential(text, self.resolver, self.fetch_status, now, **kw)

    def present(self, claims: list[str], **kw: Any) -> str:
        kw.setdefault("audience", AUD)
        kw.setdefault("now", NOW)
        return present(self.credential, claims, self.holder, **kw)


@pytest.fixture
def world(session: Session, issuer_signer: TestSigner, resolver: DictResolver) -> World:  # noqa: F811
    citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    holder = P256Key.generate()
    cid, cred = service.issue_credential(
        session, citizen.id, issuer_signer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    return World(session, issuer_signer, resolver, holder, cid, cred)


def codes(report: Report) -> dict[str, str]:
    return {c.name: c.code for c in report.checks}


def test_two_claims_through_a_qr_image_verify_as_exactly_those_claims(world: World) -> None:
    import segno
    import zxingcpp
    from PIL import Image

    payload = transport.encode(world.present(["full_name", "age_over_18"], nonce="n-1"))
    qr = segno.make(payload, error="m", boost_error=False)
    import io

    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=4)
    scanned = zxingcpp.read_barcodes(Image.open(io.BytesIO(buf.getvalue())))[0].text
    report = world.verify(scanned, nonce="n-1")
    assert report.verdict == "valid", report.to_dict()
    assert report.claims == {"full_name": "Nguyễn Thị Minh Khai", "age_over_18": True}
    assert report.issuer == {"id": ISSUER, "name": "Công an TP.HCM"}
    assert [c.name for c in report.checks] == [
        "format",
        "issuer_trusted",
        "key_valid_at_issuance",
        "signature",
        "not_expired",
        "status",
        "disclosures",
        "key_binding",
        "audience",
    ]


def test_plain_compact_form_verifies(world: World) -> None:
    report = world.verify(world.present(["birth_date", "sex"]))
    assert report.verdict == "valid"
    assert set(report.claims) == {"birth_date", "sex"}


def test_revoked(world: World) -> None:
    service.revoke_credential(world.session, world.credential_id, NOW)
    report = world.verify(world.present(["full_name"]))
    assert report.verdict == "revoked"
    assert codes(report)["status"] == "REVOKED"


def test_expired(world: World) -> None:
    later = NOW + timedelta(days=366)
    world.status_now = later
    report = world.verify(world.present(["full_name"], now=later), now=later)
    assert report.verdict == "expired"
    assert codes(report)["not_expired"] == "EXPIRED"


def test_altered_disclosure_is_invalid(world: World) -> None:
    sd = split_compact(world.present(["full_name"]))
    forged = make_disclosure("x" * 22, "full_name", "Trần Văn B").encoded
    report = world.verify(sd.issuer_jwt + "~" + forged + "~" + (sd.kb_jwt or ""))
    assert report.verdict == "invalid"
    assert report.claims == {}


def test_disclosure_from_another_credential_is_invalid(world: World) -> None:
    other_citizen = service.register_citizen(
        world.session,
        {**CITIZEN, "cccd": "001085123456", "birth_date": "1985-01-01", "sex": "male"},
        NOW,
        agency_id=ISSUER,
    )
    _, other = service.issue_credential(
        world.session,
        other_citizen.id,
        world.signer,
        ISSUER,
        world.holder.public_jwk(),
        NOW,
        status_base_url=STATUS_BASE,
    )
    foreign = split_compact(present(other, ["age_over_18"], world.holder, audience=AUD, now=NOW)).disclosures[0]
    mine = split_compact(world.credential)
    mixed = mine.issuer_jwt + "~" + foreign + "~"
    report = world.verify(present(mixed, ["age_over_18"], world.holder, audience=AUD, now=NOW))
    assert report.verdict == "invalid"
    assert codes(report)["disclosures"] == "DISCLOSURE_UNREFERENCED"


def test_duplicate_disclosure_is_invalid(world: World) -> None:
    sd = split_compact(world.credential)
    d = sd.disclosures[0]
    text = sd.issuer_jwt + "~" + d + "~" + d + "~"
    report = world.verify(text, require_key_binding=False)
    assert codes(report)["disclosures"] == "DISCLOSURE_DUPLICATE"


def test_kb_jwt_replayed_outside_its_window_is_invalid(world: World) -> None:
    presentation = world.present(["full_name"])
    report = world.verify(presentation, now=NOW + timedelta(minutes=6))
    assert report.verdict == "invalid"
    assert codes(report)["key_binding"] == "KB_NOT_FRESH"
    assert world.verify(presentation, now=NOW + timedelta(minutes=4)).verdict == "valid"


def test_kb_jwt_for_another_audience_is_invalid(world: World) -> None:
    report = world.verify(world.present(["full_name"], audience="https://evil.example"))
    assert codes(report)["key_binding"] == "KB_AUDIENCE_MISMATCH"
    assert report.verdict == "invalid"


def test_kb_jwt_with_another_nonce_is_invalid(world: World) -> None:
    report = world.verify(world.present(["full_name"], nonce="a"), nonce="b")
    assert codes(report)["key_binding"] == "KB_NONCE_MISMATCH"


def test_disclosure_added_after_key_binding_breaks_sd_hash(world: World) -> None:
    sd = split_compact(world.present(["full_name"]))
    extra = next(d for d in split_compact(world.credential).disclosures if d not in sd.disclosures)
    text = sd.issuer_jwt + "~" + sd.disclosures[0] + "~" + extra + "~" + (sd.kb_jwt or "")
    assert codes(world.verify(text))["key_binding"] == "KB_SD_HASH_MISMATCH"


def test_kb_jwt_signed_by_another_key_is_invalid(world: World) -> None:
    thief = P256Key.generate()
    sd = split_compact(world.present(["full_name"]))
    stolen = sd.issuer_jwt + "~" + sd.disclosures[0] + "~"
    with pytest.raises(Exception):  # noqa: B017 (the wallet refuses to sign for a key it does not hold)
        present(stolen, ["full_name"], thief, audience=AUD, now=NOW)
    good = world.present(["full_name"])
    header, payload, _ = good.rsplit("~", 1)[1].split(".")
    kb = (
        f"{header}.{payload}."
        + base64.urlsafe_b64encode(thief.sign(f"{header}.{payload}".encode())).rstrip(b"=").decode()
    )
    report = world.verify(good.rsplit("~", 1)[0] + "~" + kb)
    assert codes(report)["key_binding"] == "KB_SIGNATURE_INVALID"


def test_missing_key_binding_is_invalid(world: World) -> None:
    report = world.verify(split_compact(world.credential).presented)
    assert codes(report)["key_binding"] == "KEY_BINDING_MISSING"
    assert report.verdict == "invalid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reheader(world: World, header: dict[str, Any], sign: Any) -> str:
    sd = split_compact(world.present(["full_name"]))
    _, payload, _ = sd.issuer_jwt.split(".")
    h = _b64(json.dumps(header).encode())
    jwt = f"{h}.{payload}.{_b64(sign(f'{h}.{payload}'.encode()))}"
    rest = "~".join(sd.disclosures) + "~"
    # a fresh KB-JWT over the new SD-JWT so only the issuer signature is under test
    return present(jwt + "~" + rest, ["full_name"], world.holder, audience=AUD, now=NOW)


def test_alg_none_is_invalid(world: World) -> None:
    text = _reheader(world, {"alg": "none", "typ": "dc+sd-jwt", "kid": world.signer.kid}, lambda m: b"")
    report = world.verify(text)
    assert report.verdict == "invalid"
    assert codes(report)["signature"] == "ALG_NOT_ALLOWED"


def test_hs256_signed_with_the_public_key_is_invalid(world: World) -> None:
    public = json.dumps(world.signer.public_jwk()).encode()
    text = _reheader(
        world,
        {"alg": "HS256", "typ": "dc+sd-jwt", "kid": world.signer.kid},
        lambda m: hmac.new(public, m, hashlib.sha256).digest(),
    )
    report = world.verify(text)
    assert report.verdict == "invalid"
    assert codes(report)["signature"] == "ALG_NOT_ALLOWED"


def test_tampered_payload_signature_invalid(world: World) -> None:
    sd = split_compact(world.present(["full_name"]))
    h, p, s = sd.issuer_jwt.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["exp"] += 10**8
    jwt = f"{h}.{_b64(json.dumps(payload).encode())}.{s}"
    text = present(jwt + "~" + sd.disclosures[0] + "~", ["full_name"], world.holder, audience=AUD, now=NOW)
    assert codes(world.verify(text))["signature"] == "SIGNATURE_INVALID"


def test_issuer_without_identity_role_is_untrusted(world: World) -> None:
    world.resolver.add(ISSUER, world.signer, roles=frozenset({"documents"}))
    report = world.verify(world.present(["full_name"]))
    assert report.verdict == "untrusted"
    assert codes(report)["issuer_trusted"] == "ISSUER_NOT_AUTHORISED"


def test_unknown_issuer_is_untrusted(world: World) -> None:
    world.resolver.keys.clear()
    assert world.verify(world.present(["full_name"])).verdict == "untrusted"


def test_key_not_valid_at_issuance(world: World) -> None:
    world.resolver.add(ISSUER, world.signer, not_before=NOW + timedelta(days=1))
    report = world.verify(world.present(["full_name"]))
    assert codes(report)["key_valid_at_issuance"] == "KEY_NOT_VALID_AT_ISSUANCE"
    assert report.verdict == "invalid"


def test_status_list_signed_by_another_key_is_invalid(world: World) -> None:
    forger = TestSigner(kid=world.signer.kid)
    real = world.signer
    world.signer = forger  # the status endpoint now serves a list signed by an impostor
    report = world.verify(present(world.credential, ["full_name"], world.holder, audience=AUD, now=NOW))
    world.signer = real
    assert codes(report)["status"] == "STATUS_LIST_SIGNATURE_INVALID"
    assert report.verdict == "invalid"


def test_unreachable_status_list_is_an_error_not_a_pass(world: World) -> None:
    def down(uri: str) -> str:
        raise ConnectionError(uri)

    report = verify_credential(world.present(["full_name"]), world.resolver, down, NOW, audience=AUD)
    assert report.verdict == "error"


def test_a_crashing_check_is_an_error_not_a_pass(world: World) -> None:
    class Broken:
        def resolve(self, issuer_id: str, kid: str) -> Any:
            raise RuntimeError("boom")

    report = verify_credential(world.present(["full_name"]), Broken(), world.fetch_status, NOW, audience=AUD)
    assert report.verdict == "error"
    assert codes(report)["issuer_trusted"] == "CHECK_FAILED"


@pytest.mark.parametrize("garbage", ["", "hello", "XI1:", "XI1:%%%", "a.b.c~", "x" * 100_000])
def test_garbage_is_invalid(world: World, garbage: str) -> None:
    report = world.verify(garbage)
    assert report.verdict == "invalid"
    assert report.checks[0].status == "invalid"
