"""Every decoder of outside input takes random and mutated input and either returns a value or raises a typed
``XacthucError`` whose code is in docs/error-codes.md: never another exception, never a hang (pytest-timeout), and
a changed presentation or receipt never verifies ``valid``. Round trips where an encoder exists.

The valid encodings come from one bootstrapped city (SQLite, no chain: anchoring recorded as the worker would): a
document's verification link and proof bundle, a citizen's SD-JWT+KB presentation (compact and ``XI2:``), the
status list token, the trust list, the offline bundle, an OpenID4VCI proof and a stamped PDF. Signed containers are
also fuzzed *behind* their signature: their payload is mutated as JSON and signed again with the real key, so the
content parsers are reached too.

Already covered elsewhere, not repeated here: receipt ``decode_payload`` on random and mutated bodies and its round
trip (tests/ledger/test_receipt.py), ``parse_payload`` on random text and links (tests/verifier/test_payload.py),
the document pipeline on random text (tests/verifier/test_document.py), the transport, base43/base45, status list
bit arrays and disclosure round trips (tests/identity/test_transport.py, test_status_list.py, test_sdjwt.py,
test_crypto.py, test_disclosure_json.py), JWS round trip and tampering (tests/keys/test_jws.py), and the HTTP
``/v1/verify`` and ``/v1/documents`` bodies (tests/verifier/test_api_fuzz.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from identity import service, transport
from identity.oid4vci.proof import check_proof
from identity.presentation import present
from identity.sdjwt import parse_disclosure, parse_jws, split_compact
from identity.status_list import parse_status_list_jwt
from keys.bootstrap import City, bootstrap_city
from keys.errors import XacthucError
from keys.holder_key import P256Key
from keys.jws import decode_unverified, sign_jws
from keys.keystore import TEST_KDF
from keys.trust_list import verify_trust_list
from ledger.chain.outbox import AnchorBatch, BatchState, cut_batches
from ledger.documents.issuing import issue_document
from ledger.documents.receipt import Registry, verify_link
from ledger.documents.status import build_bundle, get_document
from ledger.pdf import StampText, stamp_pdf
from tests.identity.oid4vci_proofs import proof_jwt
from tests.pdf_samples import sample_pdf
from verifier.offline import OfflineState, verify_bundle_offline, verify_offline, verify_offline_bundle
from verifier.oid4vp.responses import OAuthError, parse_response
from verifier.payload import parse_payload
from verifier.pdf import find_stamp
from verifier.qr import qr_matrix
from xacthuc.cli.verify import _read_input as read_input
from xacthuc.database import make_engine, migrate
from xacthuc.offline_bundle import build_offline_bundle

from .profiles import fuzz_settings
from .strategies import B43, json_values, junk_bytes, junk_text, mutated_bytes, mutated_json, mutated_text

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(120)]

T = TypeVar("T")
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
STATUS_BASE = PUBLIC + "/v1/status-lists"
AUDIENCE = "https://bank.example/kyc"
ISSUER = PUBLIC
REGISTRY = Registry.of(31337, "0x" + "5e" * 20)
VERDICTS = {"valid", "invalid", "revoked", "superseded", "expired", "untrusted", "pending", "error"}
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-03-01",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}
_CODES = frozenset(re.findall(r"^\| `([A-Z0-9_]+)` \|", Path("docs/error-codes.md").read_text("utf-8"), re.M))


def typed(decode: Callable[[], T]) -> T | XacthucError:
    """What ``decode`` returns, or the typed error it raises (its code documented); anything else propagates."""
    try:
        return decode()
    except XacthucError as exc:
        assert exc.code in _CODES, (type(exc).__name__, exc.code)
        return exc


@dataclass(frozen=True)
class World:
    """Valid encodings of every kind, from one city."""

    city: City
    link: str  # a document's verification link (anchored)
    payload: str  # its XD1 payload
    bundle: dict[str, Any]  # its proof bundle
    presentation: str  # a citizen ID, compact SD-JWT+KB
    xi2: str  # the same as an XI2 QR payload
    status_list: str
    trust_list: str
    offline: str
    state: OfflineState
    proof: str  # an OpenID4VCI proof JWT
    holder: P256Key
    stamped: bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz-city")
    engine = make_engine(f"sqlite:///{root / 'city.db'}")
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(root / "var", session, "fuzz passphrase", NOW - timedelta(days=1), kdf=TEST_KDF)
        issued = issue_document(
            session,
            agency_id="ubnd-hcm",
            signer=city.keyring("ubnd-hcm").signer(NOW),
            account_address=city.eth_address("ubnd-hcm"),
            registry=REGISTRY,
            fields=META,
            file_bytes=b"decision",
            now=NOW,
            public_url=PUBLIC,
        )
        for cut in cut_batches(session, NOW, batch_max=1024, interval=timedelta(seconds=2), force=True):
            batch = session.get(AnchorBatch, cut.id)
            assert batch is not None
            batch.state, batch.tx_hash, batch.block_number = BatchState.CONFIRMED, "0x" + "07" * 32, 7
            batch.anchored_at = NOW + timedelta(seconds=7)
            session.add(batch)
        holder = P256Key.generate()
        citizen = service.register_citizen(session, CITIZEN, NOW, agency_id="ca-hcm")
        _, compact = service.issue_credential(
            session,
            citizen.id,
            city.keyring("ca-hcm").signer(NOW),
            "ca-hcm",
            holder.public_jwk(),
            NOW,
            status_base_url=STATUS_BASE,
        )
        session.commit()
        offline = build_offline_bundle(
            session,
            root_signer=city.root_signer,
            trust_list=city.build_trust_list(NOW),
            registry=REGISTRY,
            block=42,
            signer_for=lambda agency: city.keyring(agency).signer(NOW),
            status_base_url=STATUS_BASE,
            now=NOW,
            ttl=timedelta(hours=24),
        )
        bundle = build_bundle(get_document(session, issued.id), trust_list="", root_kid="", public_url=PUBLIC)
    engine.dispose()
    state = verify_offline_bundle(offline, city.root_jwk(), LATER)
    presentation = present(compact, ["given_name", "age_over_18"], holder, audience=AUDIENCE, now=LATER)
    [status_list] = state.status_lists.values()
    original = sample_pdf()
    stamp = StampText(host="xacthuc.hochiminhcity.gov.vn", number=META["number"], document_id=issued.id)
    stamped = stamp_pdf(original, payload=issued.payload, qr=qr_matrix(issued.verify_url), text=stamp)
    proof = proof_jwt(holder, aud=ISSUER, nonce="c-nonce-1", iat=int(LATER.timestamp()))
    yield World(
        city=city,
        link=issued.verify_url,
        payload=issued.payload,
        bundle=json.loads(json.dumps(bundle, default=str)),
        presentation=presentation,
        xi2=transport.encode(presentation),
        status_list=status_list,
        trust_list=city.build_trust_list(NOW),
        offline=offline,
        state=state,
        proof=proof,
        holder=holder,
        stamped=stamped,
    )


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-bundle") / "bundle.json"


def test_the_valid_encodings_decode(world: World) -> None:
    """The fuzzed inputs start from encodings that really verify: a mutation is a real change to a real thing."""
    assert verify_offline(world.state, world.link, now=LATER, file_bytes=b"decision").verdict.value == "valid"
    for text in (world.presentation, world.xi2):
        assert verify_offline(world.state, text, now=LATER, audience=AUDIENCE).verdict.value == "valid"
    assert verify_bundle_offline(world.state, world.bundle, now=LATER).verdict.value == "valid"
    assert find_stamp(world.stamped) is not None
    assert check_proof(world.proof, audience=ISSUER, now=LATER).nonce == "c-nonce-1"


def _verdict(report: Any) -> str:
    verdict = report.to_dict()["verdict"]
    assert verdict in VERDICTS
    return str(verdict)


def _resigned(signer: Any, header: dict[str, Any], claims: Any) -> str:
    """``claims`` (any JSON, the object replaced too) signed with the real key: the content parser is reached."""
    body = claims if isinstance(claims, dict) else json.dumps(claims).encode()
    return sign_jws(signer, body, {"typ": header["typ"]})


# ----------------------------------------------------------------------------------------------- QR payloads
@fuzz_settings(150)
@given(data=st.data())
def test_qr_payloads_and_links_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    valid = data.draw(st.sampled_from([world.link, world.payload, world.xi2, world.presentation]))
    text = data.draw(mutated_text(valid, separators="~.#:/"))
    parsed = typed(lambda: parse_payload(text))
    if not isinstance(parsed, XacthucError):
        assert parsed.payload and parsed.kind.value in ("document", "citizen_id")


@fuzz_settings(100)
@given(payload=st.text(alphabet=B43, max_size=600).map(lambda t: "XD1:" + t))
def test_a_verification_link_carries_its_payload_exactly(payload: str) -> None:
    assert parse_payload(verify_link(PUBLIC, payload)).payload == payload


# --------------------------------------------------------------------------------------------------- receipts
@fuzz_settings(120)
@given(data=st.data())
def test_a_changed_receipt_never_verifies_valid(world: World, data: st.DataObject) -> None:
    text = data.draw(mutated_text(world.payload, separators=":"))
    report = typed(lambda: verify_offline(world.state, text, now=LATER, file_bytes=b"decision"))
    if not isinstance(report, XacthucError) and text.strip() != world.payload:
        assert _verdict(report) != "valid", text


# --------------------------------------------------------------------------------------- SD-JWTs and KB-JWTs
@fuzz_settings(150)
@given(data=st.data())
def test_sd_jwt_parts_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    text = data.draw(mutated_text(world.presentation) | junk_text())
    sd = typed(lambda: split_compact(text))
    if isinstance(sd, XacthucError):
        return
    assert sd.compact() == text  # splitting loses nothing
    for jws in (sd.issuer_jwt, sd.kb_jwt):
        if jws is not None:
            typed(partial(parse_jws, jws))
    for disclosure in sd.disclosures:
        typed(partial(parse_disclosure, disclosure))


@fuzz_settings(120)
@given(data=st.data())
def test_a_changed_presentation_never_verifies_valid(world: World, data: st.DataObject) -> None:
    text = data.draw(mutated_text(world.presentation))
    report = typed(lambda: verify_offline(world.state, text, now=LATER, audience=AUDIENCE))
    if not isinstance(report, XacthucError) and text.strip() != world.presentation:
        assert _verdict(report) != "valid", text


@fuzz_settings(120)
@given(data=st.data())
def test_a_changed_xi2_payload_decodes_typed_and_never_verifies_valid(world: World, data: st.DataObject) -> None:
    text = data.draw(mutated_text(world.xi2, separators=":") | junk_text(B43).map(lambda t: "XI2:" + t))
    decoded = typed(lambda: transport.decode(text))
    report = typed(lambda: verify_offline(world.state, text, now=LATER, audience=AUDIENCE))
    if not isinstance(report, XacthucError) and decoded != world.presentation:
        assert _verdict(report) != "valid", text


# ------------------------------------------------------------------------------------------------ status lists
@fuzz_settings(120)
@given(data=st.data())
def test_status_list_tokens_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    text = data.draw(mutated_text(world.status_list) | junk_text())
    token = typed(lambda: parse_status_list_jwt(text))
    if not isinstance(token, XacthucError):
        assert token.status_list.size > 0


@fuzz_settings(80)
@given(data=st.data())
def test_status_list_contents_behind_a_good_signature_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    header, claims = decode_unverified(world.status_list)
    signer = world.city.keyring("ca-hcm").signer(NOW)
    token = _resigned(signer, header, data.draw(mutated_json(claims)))
    typed(lambda: parse_status_list_jwt(token))


# ----------------------------------------------------------------------------------- trust lists and bundles
@fuzz_settings(100)
@given(data=st.data())
def test_trust_lists_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    root = world.city.root_jwk()
    text = data.draw(mutated_text(world.trust_list))
    typed(lambda: verify_trust_list(text, root, LATER))
    header, claims = decode_unverified(world.trust_list)
    resigned = _resigned(world.city.root_signer, header, data.draw(mutated_json(claims)))
    typed(lambda: verify_trust_list(resigned, root, LATER))


@fuzz_settings(100)
@given(data=st.data())
def test_offline_bundles_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    root = world.city.root_jwk()
    text = data.draw(mutated_text(world.offline))
    typed(lambda: verify_offline_bundle(text, root, LATER))
    header, claims = decode_unverified(world.offline)
    resigned = _resigned(world.city.root_signer, header, data.draw(mutated_json(claims)))
    state = typed(lambda: verify_offline_bundle(resigned, root, LATER))
    if isinstance(state, OfflineState):  # what the bundle says is then used to verify: that must hold up too
        report = typed(lambda: verify_offline(state, world.link, now=LATER))
        if not isinstance(report, XacthucError):
            _verdict(report)


@fuzz_settings(120)
@given(data=st.data())
def test_proof_bundles_decode_or_fail_typed(world: World, data: st.DataObject, bundle_file: Path) -> None:
    if data.draw(st.booleans()):  # a bundle file as ``xacthuc verify BUNDLE`` reads it
        bundle_file.write_text(data.draw(mutated_text(json.dumps(world.bundle), separators=',:"')), encoding="utf-8")
        read = typed(lambda: read_input(str(bundle_file)))
        if isinstance(read, XacthucError) or read[0] != "bundle":
            return
        bundle = read[1]
    else:
        bundle = data.draw(mutated_json(world.bundle))
    report = typed(lambda: verify_bundle_offline(world.state, bundle, now=LATER))
    if not isinstance(report, XacthucError) and bundle != world.bundle:
        _verdict(report)


# ------------------------------------------------------------------------------------------- OpenID4VC inputs
@fuzz_settings(120)
@given(data=st.data())
def test_openid4vci_proofs_decode_or_fail_typed(world: World, data: st.DataObject) -> None:
    proof: Any = data.draw(mutated_text(world.proof) | junk_text() | json_values)
    result = typed(lambda: check_proof(proof, audience=ISSUER, now=LATER))
    if not isinstance(result, XacthucError) and proof != world.proof:
        # Another proof can be good (the holder's signature stays valid over another encoding) only with a nonce.
        assert result.nonce


_FORM_KEYS = st.sampled_from(["vp_token", "state", "error", "error_description", "presentation_submission", "x"])


@fuzz_settings(150)
@given(data=st.data())
def test_openid4vp_responses_decode_or_fail_with_an_oauth_error(world: World, data: st.DataObject) -> None:
    vp = json.dumps({"citizen_id": [world.presentation]})
    form: dict[str, Any] = data.draw(
        st.dictionaries(_FORM_KEYS, junk_text() | json_values | mutated_text(vp, separators=',:"~'), max_size=4)
    )
    try:
        parse_response(form)
    except OAuthError as exc:  # the wallet's endpoint answers in OAuth's shape, not with our codes
        assert exc.error == "invalid_request" and exc.status == 400


@fuzz_settings(60)
@given(state=st.none() | st.text(max_size=40), as_list=st.booleans())
def test_an_openid4vp_response_carries_its_presentation_exactly(world: World, state: str | None, as_list: bool) -> None:
    token = {"citizen_id": [world.presentation] if as_list else world.presentation}
    form = {"vp_token": json.dumps(token)} | ({} if state is None else {"state": state})
    answer = parse_response(form)
    assert (answer.presentation, answer.state, answer.error) == (world.presentation, state, None)


# ------------------------------------------------------------------------------------------------ stamped PDFs
@fuzz_settings(150)
@given(data=st.data())
def test_stamped_pdfs_are_read_or_not_never_crash(world: World, data: st.DataObject) -> None:
    pdf = data.draw(mutated_bytes(world.stamped) | junk_bytes().map(lambda b: b"%PDF-1.7\n" + b))
    stamp = find_stamp(pdf)  # returns a stamp or None; it raises nothing
    if stamp is not None:
        assert 0 < stamp.original_length <= stamp.stamp_end <= stamp.length == len(pdf)
        assert stamp.payload is not None and stamp.payload.isascii()


@fuzz_settings(10)
@given(payload=st.text(alphabet=B43, min_size=1, max_size=300).map(lambda t: "XD1:" + t))
def test_a_stamped_pdf_carries_its_payload_exactly(payload: str) -> None:
    text = StampText(host="xacthuc.hochiminhcity.gov.vn", number=META["number"], document_id="01J9ZX3Q4K8M2N6P7R8S9T0V")
    stamped = stamp_pdf(sample_pdf(), payload=payload, qr=qr_matrix(PUBLIC + "/v#" + payload), text=text)
    stamp = find_stamp(stamped)
    assert stamp is not None and stamp.payload == payload
