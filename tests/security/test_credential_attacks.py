"""Attacks on digital IDs (issue 15): SD-JWT VC presentations (RFC 9901) forged, replayed and stripped, each refused
by the exact check and code that should refuse it.

Credentials are issued by ``identity.service`` into a module-scoped SQLite database (the fixed clock decides expiry
and freshness) and verified by ``verifier.credential.verify_credential``, the pipeline ``POST /v1/verify`` runs; the
replay and alg cases also go through the real app (``test_a_presentation_attack_is_refused_by_the_app``). One-case
versions of several attacks live in ``tests/verifier/test_credential.py``; here each is a row of a table.

Reordering: RFC 9901 matches disclosures to digests, so their order carries no meaning (section 7.1 processes them by
digest), but ``sd_hash`` (section 4.3.1) covers the presentation as sent: the holder may present in any order
(``holder-reordered`` verifies), while a reordering by anyone after the key-binding JWT was signed breaks ``sd_hash``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlmodel import Session

from identity import service
from identity.presentation import present, sd_hash
from identity.sdjwt import make_disclosure, split_compact
from keys.holder_key import P256Key
from tests.identity.conftest import CITIZEN, ISSUER, NOW, STATUS_BASE, DictResolver, TestSigner
from tests.security._forgery import ForgeryCity, forgery_city
from tests.verifier.served import TIMEOUT
from verifier.credential import verify_credential
from verifier.report import Report
from xacthuc.database import make_engine, migrate

pytestmark = pytest.mark.attack

AUD = "https://bank.example/kyc"
OTHER_ISSUER = "https://id.other-province.example"  # a trusted identity issuer, not this credential's


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@dataclass
class World:
    session: Session
    signer: TestSigner
    other_signer: TestSigner  # OTHER_ISSUER's
    resolver: DictResolver
    holder: P256Key
    credential: str
    credential_id: str
    foreign: str  # another citizen's credential, same issuer and holder key
    other_issuers: str  # a credential of OTHER_ISSUER for the same holder

    def status(self, uri: str, *, signer: TestSigner | None = None, issuer: str | None = None) -> str:
        list_id = service.status_list_id(uri, status_base_url=STATUS_BASE) or uri.rsplit("/", 1)[1]
        token = service.status_list_token(
            self.session, list_id, signer or self.signer, status_base_url=STATUS_BASE, now=NOW
        )
        return token if issuer is None else _reissued(token, signer or self.signer, iss=issuer)

    def present(self, claims: list[str], credential: str | None = None, **kw: Any) -> str:
        kw.setdefault("audience", AUD)
        kw.setdefault("now", NOW)
        return present(credential or self.credential, claims, self.holder, **kw)

    def kb(self, presented: str, *, key: P256Key | None = None, **over: Any) -> str:
        """A key-binding JWT over ``presented`` (up to its last ``~``), signed by the holder unless ``key``."""
        header = {"alg": "ES256", "typ": "kb+jwt", **over.pop("header", {})}
        payload = {"iat": int(NOW.timestamp()), "aud": AUD, "sd_hash": sd_hash(presented), **over}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        return f"{signing}.{_b64((key or self.holder).sign(signing.encode()))}"

    def with_kb(self, issuer_jwt: str, disclosures: list[str]) -> str:
        presented = issuer_jwt + "~" + "".join(d + "~" for d in disclosures)
        return presented + self.kb(presented)


def _reissued(jwt: str, signer: TestSigner, **claims: Any) -> str:
    """``jwt`` with claims changed, signed again by ``signer`` (its kid in the header)."""
    head, body, _ = jwt.split(".")
    header = _json(head) | {"kid": signer.kid}
    payload = _json(body) | claims
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing}.{_b64(signer.sign(signing.encode()))}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("credential-attacks")
    engine = make_engine(f"sqlite:///{root / 'ids.db'}")
    migrate(engine)
    signer, other_signer, holder = TestSigner(), TestSigner(kid="other-province-key"), P256Key.generate()
    resolver = DictResolver()
    resolver.add(ISSUER, signer)
    resolver.add(OTHER_ISSUER, other_signer, issuer_name="Công an tỉnh khác")
    with Session(engine) as session:
        citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
        other = {**CITIZEN, "cccd": "001085123456", "birth_date": "1985-01-01", "sex": "male"}
        other_citizen = service.register_citizen(session, other, NOW, agency_id=ISSUER)
        jwk = holder.public_jwk()
        cid, cred = service.issue_credential(session, citizen.id, signer, ISSUER, jwk, NOW, status_base_url=STATUS_BASE)
        _, foreign = service.issue_credential(
            session, other_citizen.id, signer, ISSUER, jwk, NOW, status_base_url=STATUS_BASE
        )
        same_person = service.register_citizen(session, CITIZEN, NOW, agency_id=OTHER_ISSUER)
        _, theirs = service.issue_credential(
            session, same_person.id, other_signer, OTHER_ISSUER, jwk, NOW, status_base_url=STATUS_BASE
        )
        session.commit()
        yield World(session, signer, other_signer, resolver, holder, cred, cid, foreign, theirs)
    engine.dispose()


def verify(w: World, text: str, **kw: Any) -> Report:
    kw.setdefault("audience", AUD)
    now = kw.pop("now", NOW)
    fetch = kw.pop("status", w.status)
    return verify_credential(text, w.resolver, fetch, now, **kw)


def refused(report: Report, verdict: str, name: str, code: str) -> None:
    d = report.to_dict()
    found = next((c for c in d["checks"] if c["name"] == name), None)
    assert found is not None, d
    assert (d["verdict"], found["status"], found["code"]) == (verdict, "invalid", code), d
    if name in ("format", "issuer_trusted", "signature", "disclosures"):
        assert d["claims"] == {}, d  # nothing a forger wrote is shown


def _parts(text: str) -> tuple[str, list[str], str]:
    sd = split_compact(text)
    return sd.issuer_jwt, list(sd.disclosures), sd.kb_jwt or ""


# ------------------------------------------------------------------------------ replay, freshness and key binding
# case -> (make the presentation, extra verify arguments, check, code, verdict)
Case = tuple[Callable[[World], str], dict[str, Any], str, str, str]
REPLAY_AND_BINDING: dict[str, Case] = {
    "replayed-to-another-audience": (
        lambda w: w.present(["full_name"], audience="https://shop.example"), {}, "key_binding",
        "KB_AUDIENCE_MISMATCH", "invalid",
    ),
    "replayed-after-the-freshness-window": (
        lambda w: w.present(["full_name"]), {"now": NOW + timedelta(minutes=5, seconds=1)}, "key_binding",
        "KB_NOT_FRESH", "invalid",
    ),
    "replayed-with-another-nonce": (
        lambda w: w.present(["full_name"], nonce="n-1"), {"nonce": "n-2"}, "key_binding", "KB_NONCE_MISMATCH",
        "invalid",
    ),
    "dated-in-the-future": (
        lambda w: w.present(["full_name"], now=NOW + timedelta(minutes=2)), {}, "key_binding", "KB_NOT_FRESH",
        "invalid",
    ),
    "key-binding-stripped": (
        lambda w: split_compact(w.present(["full_name"])).presented, {}, "key_binding", "KEY_BINDING_MISSING",
        "invalid",
    ),
    "key-binding-stripped-without-audience": (
        lambda w: split_compact(w.present(["full_name"])).presented, {"audience": None}, "key_binding",
        "KEY_BINDING_MISSING", "invalid",
    ),
    "holder-key-swapped": (
        lambda w: (p := split_compact(w.present(["full_name"])).presented) + w.kb(p, key=P256Key.generate()), {},
        "key_binding", "KB_SIGNATURE_INVALID", "invalid",
    ),
    "kb-typ-jwt": (
        lambda w: (p := split_compact(w.present(["full_name"])).presented) + w.kb(p, header={"typ": "JWT"}), {},
        "key_binding", "KB_TYP_INVALID", "invalid",
    ),
    "kb-alg-none": (
        lambda w: (p := split_compact(w.present(["full_name"])).presented)
        + w.kb(p, header={"alg": "none"}).rsplit(".", 1)[0] + ".",
        {}, "key_binding", "KB_SIGNATURE_INVALID", "invalid",
    ),
    "kb-hs256-with-the-holders-public-key": (
        lambda w: (p := split_compact(w.present(["full_name"])).presented) + _hs256_kb(w, p), {}, "key_binding",
        "KB_SIGNATURE_INVALID", "invalid",
    ),
    "kb-nested-deeper-than-the-parser-recurses": (  # was a RecursionError: CHECK_FAILED, before the fix
        lambda w: split_compact(w.present(["full_name"])).presented + _deep_jws("kb+jwt"), {}, "key_binding",
        "SDJWT_MALFORMED", "invalid",
    ),
    "kb-for-another-presentation": (
        lambda w: split_compact(w.present(["full_name"])).presented + _parts(w.present(["birth_date"]))[2], {},
        "key_binding", "KB_SD_HASH_MISMATCH", "invalid",
    ),
}  # fmt: skip


DEEP = b"[" * 20_000 + b"]" * 20_000  # past any recursion limit, inside the 64 KiB a presentation may have


def _deep_jws(typ: str) -> str:
    header = _b64(json.dumps({"alg": "ES256", "typ": typ}).encode())
    payload = _b64(b'{"a":' + DEEP + b"}")
    return f"{header}.{payload}.{_b64(bytes(64))}"


def _hs256_kb(w: World, presented: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "kb+jwt"}).encode())
    payload = _b64(json.dumps({"iat": int(NOW.timestamp()), "aud": AUD, "sd_hash": sd_hash(presented)}).encode())
    secret = json.dumps(w.holder.public_jwk()).encode()
    return f"{header}.{payload}.{_b64(hmac.new(secret, f'{header}.{payload}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("case", REPLAY_AND_BINDING)
def test_a_replayed_or_unbound_presentation_is_refused(world: World, case: str) -> None:
    make, kw, name, code, verdict = REPLAY_AND_BINDING[case]
    assert verify(world, world.present(["full_name"])).verdict == "valid"  # the genuine one, for contrast
    refused(verify(world, make(world), **kw), verdict, name, code)


# ------------------------------------------------------------------------------------------------------ disclosures
def _other_disclosure(w: World) -> str:
    return next(
        d
        for d in split_compact(w.credential).disclosures
        if d not in split_compact(w.present(["full_name"])).disclosures
    )


def _resent(w: World, claims: list[str], change: Callable[[list[str]], list[str]]) -> str:
    """The holder's presentation with its disclosures changed afterwards, its key-binding JWT kept."""
    issuer_jwt, disclosures, kb = _parts(w.present(claims))
    return issuer_jwt + "~" + "".join(d + "~" for d in change(disclosures)) + kb


_MANY = range(5000)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


DISCLOSURES: dict[str, tuple[Callable[[World], str], str, str, str]] = {
    # the holder builds the presentation (and signs its key binding) with disclosures of its choosing
    "added-made-up": (
        lambda w: w.with_kb(_parts(w.credential)[0], [make_disclosure("s" * 22, "age_over_21", True).encoded]),
        "disclosures", "DISCLOSURE_UNREFERENCED", "invalid",
    ),
    "value-altered": (
        lambda w: w.with_kb(_parts(w.credential)[0], [make_disclosure("s" * 22, "full_name", "Trần Văn B").encoded]),
        "disclosures", "DISCLOSURE_UNREFERENCED", "invalid",
    ),
    "duplicated": (
        lambda w: w.with_kb(_parts(w.credential)[0], [_parts(w.credential)[1][0]] * 2),
        "disclosures", "DISCLOSURE_DUPLICATE", "invalid",
    ),
    "from-another-credential": (
        lambda w: w.with_kb(_parts(w.credential)[0], _parts(w.present(["birth_date"], credential=w.foreign))[1]),
        "disclosures", "DISCLOSURE_UNREFERENCED", "invalid",
    ),
    "from-another-issuers-credential": (
        lambda w: w.with_kb(_parts(w.credential)[0], _parts(w.present(["full_name"], credential=w.other_issuers))[1]),
        "disclosures", "DISCLOSURE_UNREFERENCED", "invalid",
    ),
    "reserved-name": (
        lambda w: w.with_kb(_parts(w.credential)[0], [_b64(json.dumps(["s" * 22, "_sd", ["x"]]).encode())]),
        "disclosures", "DISCLOSURE_INVALID", "invalid",
    ),
    "array-element-for-a-claim": (
        lambda w: w.with_kb(_parts(w.credential)[0], [_b64(json.dumps(["s" * 22, "x"]).encode())]),
        "disclosures", "DISCLOSURE_UNREFERENCED", "invalid",
    ),
    "nested-past-the-json-depth-limit": (
        lambda w: w.with_kb(_parts(w.credential)[0], [_b64(json.dumps(["s" * 22, "n", _nested(70)]).encode())]),
        "disclosures", "DISCLOSURE_INVALID", "invalid",
    ),
    "nested-deeper-than-the-parser-recurses": (  # was a RecursionError: CHECK_FAILED, before the fix
        lambda w: w.with_kb(_parts(w.credential)[0], [_b64(b'["' + b"s" * 22 + b'","n",' + DEEP + b"]")]),
        "disclosures", "DISCLOSURE_INVALID", "invalid",
    ),
    "oversized-one": (
        lambda w: w.with_kb(_parts(w.credential)[0], [make_disclosure("s" * 22, "n", "x" * 200_000).encoded]),
        "format", "SDJWT_MALFORMED", "invalid",
    ),
    "oversized-many": (
        lambda w: w.with_kb(_parts(w.credential)[0], [make_disclosure(f"{i:022d}", "n", i).encoded for i in _MANY]),
        "format", "SDJWT_MALFORMED", "invalid",
    ),
    # someone between the holder and the verifier changes the presentation after the key binding was signed
    "added-after-key-binding": (
        lambda w: _resent(w, ["full_name"], lambda d: [*d, _other_disclosure(w)]),
        "key_binding", "KB_SD_HASH_MISMATCH", "invalid",
    ),
    "removed-after-key-binding": (
        lambda w: _resent(w, ["full_name", "birth_date"], lambda d: d[1:]),
        "key_binding", "KB_SD_HASH_MISMATCH", "invalid",
    ),
    "reordered-after-key-binding": (
        lambda w: _resent(w, ["full_name", "birth_date"], lambda d: d[::-1]),
        "key_binding", "KB_SD_HASH_MISMATCH", "invalid",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", DISCLOSURES)
def test_an_added_duplicated_or_foreign_disclosure_is_refused(world: World, case: str) -> None:
    make, name, code, verdict = DISCLOSURES[case]
    refused(verify(world, make(world)), verdict, name, code)


def test_disclosures_reordered_by_the_holder_still_verify(world: World) -> None:
    """RFC 9901: disclosures are matched by digest, their order is free; the holder's key binding covers its order."""
    issuer_jwt, disclosures, _ = _parts(world.present(["full_name", "birth_date", "sex"]))
    report = verify(world, world.with_kb(issuer_jwt, list(reversed(disclosures))))
    assert report.verdict == "valid", report.to_dict()
    assert set(report.claims) == {"full_name", "birth_date", "sex"}


# ----------------------------------------------------------------------------------- the issuer's signature and key
def _issuer_jwt_with(w: World, header: dict[str, Any], sign: Callable[[bytes], bytes], **claims: Any) -> str:
    """The presentation with its issuer JWT's header/claims replaced and signed by ``sign``; a fresh key binding, so
    only the issuer signature is under test."""
    issuer_jwt, disclosures, _ = _parts(w.present(["full_name"]))
    head, body, _ = issuer_jwt.split(".")
    h = _b64(json.dumps(_json(head) | header).encode())
    b = _b64(json.dumps(_json(body) | claims).encode()) if claims else body
    return w.with_kb(f"{h}.{b}.{_b64(sign(f'{h}.{b}'.encode()))}", disclosures)


OWN = TestSigner(kid="own-key")
ALG = ("signature", "ALG_NOT_ALLOWED", "invalid")


def _hmac_with_public_key(w: World) -> Callable[[bytes], bytes]:
    secret = json.dumps(w.signer.public_jwk()).encode()
    return lambda m: hmac.new(secret, m, hashlib.sha256).digest()


# a key of our own, in no trust list

ISSUER_FORGERIES: dict[str, tuple[Callable[[World], str], str, str, str]] = {
    "alg-none": (lambda w: _issuer_jwt_with(w, {"alg": "none"}, lambda m: b""), *ALG),
    "hs256-with-the-public-key": (lambda w: _issuer_jwt_with(w, {"alg": "HS256"}, _hmac_with_public_key(w)), *ALG),
    "es384-claimed": (lambda w: _issuer_jwt_with(w, {"alg": "ES384"}, w.signer.sign), *ALG),
    "re-signed-with-our-key-under-the-issuers-kid": (
        lambda w: _issuer_jwt_with(w, {}, OWN.sign), "signature", "SIGNATURE_INVALID", "invalid",
    ),
    "re-signed-with-our-key-and-kid": (
        lambda w: _issuer_jwt_with(w, {"kid": OWN.kid}, OWN.sign), "issuer_trusted", "ISSUER_UNKNOWN", "untrusted",
    ),
    "unknown-issuer": (
        lambda w: _issuer_jwt_with(w, {"kid": OWN.kid}, OWN.sign, iss="https://id.forger.example"),
        "issuer_trusted", "ISSUER_UNKNOWN", "untrusted",
    ),
    "another-issuers-kid-claiming-this-issuer": (
        lambda w: _issuer_jwt_with(w, {"kid": w.other_signer.kid}, w.other_signer.sign),
        "issuer_trusted", "ISSUER_UNKNOWN", "untrusted",
    ),
    "claims-altered": (
        lambda w: _issuer_jwt_with(w, {}, lambda m: _parts(w.credential)[0].split(".")[2].encode(), exp=2**40),
        "signature", "SIGNATURE_INVALID", "invalid",
    ),
    "holder-key-swapped-in-cnf": (
        lambda w: _issuer_jwt_with(w, {}, OWN.sign, cnf={"jwk": P256Key.generate().public_jwk()}),
        "signature", "SIGNATURE_INVALID", "invalid",
    ),
    "nested-deeper-than-the-parser-recurses": (  # was a RecursionError: CHECK_FAILED, before the fix
        lambda w: _deep_jws("dc+sd-jwt") + "~" + _parts(w.present(["full_name"]))[1][0] + "~",
        "format", "SDJWT_MALFORMED", "invalid",
    ),
    "crit-header": (
        lambda w: _issuer_jwt_with(w, {"crit": ["x"]}, w.signer.sign), "format", "CRIT_UNSUPPORTED", "invalid",
    ),
    "typ-jwt": (lambda w: _issuer_jwt_with(w, {"typ": "JWT"}, w.signer.sign), "format", "TYP_INVALID", "invalid"),
    "sd-alg-sha-1": (
        lambda w: _issuer_jwt_with(w, {}, w.signer.sign, _sd_alg="sha-1"), "format", "SD_ALG_UNSUPPORTED", "invalid",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ISSUER_FORGERIES)
def test_a_forged_issuer_signature_or_key_is_refused(world: World, case: str) -> None:
    make, name, code, verdict = ISSUER_FORGERIES[case]
    refused(verify(world, make(world)), verdict, name, code)


# --------------------------------------------------------------------------------------- expiry, status, revocation
def test_an_expired_credential_is_expired(world: World) -> None:
    later = NOW + timedelta(days=366)
    report = verify(
        world, world.present(["full_name"], now=later), now=later, status=lambda uri: _fresh(world, uri, later)
    )
    refused(report, "expired", "not_expired", "EXPIRED")


def _unsigned(jwt: str) -> str:
    head, body, _ = jwt.split(".")
    return f"{_b64(json.dumps(_json(head) | {'alg': 'none'}).encode())}.{body}."


def _fresh(w: World, uri: str, now: Any) -> str:
    list_id = uri.rsplit("/", 1)[1]
    return service.status_list_token(w.session, list_id, w.signer, status_base_url=STATUS_BASE, now=now)


STATUS_ATTACKS: dict[str, tuple[Callable[[World, str], str], str, str]] = {
    "signed-by-another-trusted-issuer": (
        lambda w, uri: w.status(uri, signer=w.other_signer), "STATUS_LIST_SIGNATURE_INVALID", "invalid"
    ),
    "another-issuers-list-claiming-this-issuer": (
        lambda w, uri: w.status(uri, signer=w.other_signer, issuer=ISSUER), "STATUS_LIST_SIGNATURE_INVALID", "invalid"
    ),
    "this-issuers-key-but-another-iss": (
        lambda w, uri: w.status(uri, issuer=OTHER_ISSUER), "STATUS_LIST_SIGNATURE_INVALID", "invalid"
    ),
    "signed-with-our-key-under-the-issuers-kid": (
        lambda w, uri: w.status(uri, signer=TestSigner(kid=w.signer.kid)), "STATUS_LIST_SIGNATURE_INVALID", "invalid"
    ),
    "for-another-uri": (
        lambda w, uri: _reissued(w.status(uri), w.signer, sub=uri + "0"), "STATUS_LIST_MISMATCH", "invalid"
    ),
    "expired-list": (
        lambda w, uri: _reissued(w.status(uri), w.signer, exp=int(NOW.timestamp()) - 1), "STATUS_LIST_EXPIRED", "error"
    ),
    "alg-none-list": (
        lambda w, uri: _unsigned(w.status(uri)),
        "STATUS_LIST_SIGNATURE_INVALID", "invalid",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", STATUS_ATTACKS)
def test_a_status_list_not_from_the_credentials_issuer_is_refused(world: World, case: str) -> None:
    forge, code, verdict = STATUS_ATTACKS[case]
    report = verify(world, world.present(["full_name"]), status=lambda uri: forge(world, uri))
    refused(report, verdict, "status", code)


def test_a_revoked_credential_is_revoked(world: World, tmp_path: Path) -> None:
    presentation = world.present(["full_name"])
    service.revoke_credential(world.session, world.credential_id, NOW)
    try:
        refused(verify(world, presentation), "revoked", "status", "REVOKED")
        # and a status list fetched before the revocation, replayed after it, is the same list re-signed: stale
        # lists are bounded by their exp (STATUS_LIST_EXPIRED above), never accepted past it
    finally:
        world.session.rollback()


# ------------------------------------------------------------------------------------------------ through the app
@pytest.fixture(scope="module")
def app_credential(
    tmp_path_factory: pytest.TempPathFactory, deployer: LocalAccount
) -> Iterator[tuple[ForgeryCity, str, P256Key, str]]:
    """A credential issued by the police (``ca-hcm``) over HTTP on the real app, for a holder key of ours."""
    for city in forgery_city(tmp_path_factory.mktemp("credential-app"), deployer, documents=False):
        auth = {"Authorization": f"Bearer {city.served.api_keys['ca-hcm']}"}
        r = httpx.post(f"{city.base}/v1/citizens", json=CITIZEN, headers=auth, timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        holder = P256Key.generate()
        body = {"holder_jwk": holder.public_jwk()}
        r = httpx.post(
            f"{city.base}/v1/citizens/{r.json()['id']}/credentials", json=body, headers=auth, timeout=TIMEOUT
        )
        assert r.status_code == 201, r.text
        yield city, r.json()["credential"], holder, r.json()["id"]


def _app_present(credential: str, holder: P256Key, **kw: Any) -> str:
    kw.setdefault("audience", AUD)
    kw.setdefault("now", datetime.now(UTC))
    return present(credential, ["full_name"], holder, **kw)


def _thiefs_kb(presentation: str) -> str:
    """The same key-binding JWT, signed by a key that is not the credential's ``cnf``."""
    head, body, _ = presentation.rsplit("~", 1)[1].split(".")
    signature = _b64(P256Key.generate().sign(f"{head}.{body}".encode()))
    return presentation.rsplit("~", 1)[0] + f"~{head}.{body}.{signature}"


def _app_reheader(credential: str, holder: P256Key, header: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    issuer_jwt, disclosures, _ = _parts(_app_present(credential, holder))
    head, body, _ = issuer_jwt.split(".")
    h = _b64(json.dumps(_json(head) | header).encode())
    jwt = f"{h}.{body}.{_b64(sign(f'{h}.{body}'.encode()))}"
    return _app_present(jwt + "~" + "".join(d + "~" for d in disclosures), holder)


APP_ATTACKS: dict[str, tuple[Callable[[str, P256Key], str], str, str]] = {
    "replayed-to-another-audience": (
        lambda c, h: _app_present(c, h, audience="https://shop.example"), "key_binding", "KB_AUDIENCE_MISMATCH"
    ),
    "replayed-after-the-freshness-window": (
        lambda c, h: _app_present(c, h, now=datetime.now(UTC) - timedelta(minutes=6)), "key_binding", "KB_NOT_FRESH"
    ),
    "key-binding-stripped": (
        lambda c, h: split_compact(_app_present(c, h)).presented, "key_binding", "KEY_BINDING_MISSING"
    ),
    "holder-key-swapped": (lambda c, h: _thiefs_kb(_app_present(c, h)), "key_binding", "KB_SIGNATURE_INVALID"),
    "alg-none": (lambda c, h: _app_reheader(c, h, {"alg": "none"}, lambda m: b""), "signature", "ALG_NOT_ALLOWED"),
    "hs256-with-a-public-key": (
        lambda c, h: _app_reheader(c, h, {"alg": "HS256"}, lambda m: hmac.new(b"{}", m, hashlib.sha256).digest()),
        "signature", "ALG_NOT_ALLOWED",
    ),
}  # fmt: skip


@pytest.mark.anvil
@pytest.mark.parametrize("case", APP_ATTACKS)
def test_a_presentation_attack_is_refused_by_the_app(
    app_credential: tuple[ForgeryCity, str, P256Key, str], case: str
) -> None:
    city, credential, holder, _ = app_credential
    make, name, code = APP_ATTACKS[case]
    assert city.verify(_app_present(credential, holder), audience=AUD)["verdict"] == "valid"
    report = city.verify(make(credential, holder), audience=AUD)
    found = next(c for c in report["checks"] if c["name"] == name)
    assert (report["verdict"], found["status"], found["code"]) == ("invalid", "invalid", code), report


@pytest.mark.anvil
def test_a_revoked_credential_is_revoked_by_the_app(app_credential: tuple[ForgeryCity, str, P256Key, str]) -> None:
    city, credential, holder, credential_id = app_credential
    auth = {"Authorization": f"Bearer {city.served.api_keys['ca-hcm']}"}
    r = httpx.post(f"{city.base}/v1/credentials/{credential_id}/revoke", headers=auth, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    report = city.verify(_app_present(credential, holder), audience=AUD)
    found = next(c for c in report["checks"] if c["name"] == "status")
    assert (report["verdict"], found["status"], found["code"]) == ("revoked", "invalid", "REVOKED"), report
