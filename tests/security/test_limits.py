"""Every limit in keys/limits.py, at the limit and one past it (docs/limits.md lists them).

The table below is the vector list: for each limit, a call with an input exactly at the limit (accepted: it passes
the limit's check, and may fail later for an unrelated reason) and one just past it (refused with the typed error
named, which for limits reached through HTTP is a 4xx). A constant added to keys/limits.py that neither this table
nor docs/limits.md names fails ``test_every_limit_is_tested_and_documented``.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import io
import json
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from keys import limits as L
from keys.errors import XacthucError

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 7, 15, 3, 0, tzinfo=UTC)

Outcome = tuple[str, str] | None  # (code, message) of the typed error raised, or None when accepted


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        call()
    except XacthucError as exc:
        return (exc.code, str(exc))
    return None


@dataclass(frozen=True)
class Case:
    limit: str  # the name in keys.limits
    at: Callable[[], Any]
    past: Callable[[], Any]
    code: str  # the past case's error code
    id: str = ""


# ------------------------------------------------------------------------------------------------- the callables
def _jws(n: int) -> Callable[[], Any]:
    from keys.jws import decode_unverified

    return lambda: decode_unverified("a" * n)


def _jwt_of_length(header: dict[str, Any], n: int) -> str:
    """A well-formed compact JWS of exactly ``n`` characters (its signature is junk of the right alphabet)."""
    from keys.encoding import b64url_encode

    h = b64url_encode(json.dumps(header).encode())
    for pad in range(4):
        p = b64url_encode(json.dumps({"pad": "x" * pad}).encode())
        s = n - len(h) - len(p) - 2
        if s >= 0 and s % 4 != 1:
            return f"{h}.{p}.{'A' * s}"
    raise AssertionError(n)


def _x509(n: int) -> Callable[[], Any]:
    from keys.x509 import verify_x509_hash_jws

    token = _jwt_of_length({"alg": "ES256", "typ": "oauth-authz-req+jwt"}, n)
    return lambda: verify_x509_hash_jws(token)


def _password(n: int) -> Callable[[], Any]:
    from keys.staff import _check_password_rules

    return lambda: _check_password_rules("Mật-khẩu-1" + "x" * (n - 10))


def _json_depth(n: int) -> Callable[[], Any]:
    from keys.json_depth import check_json_depth

    return lambda: check_json_depth(b"[" * n + b"]" * n, L.JSON_DEPTH)


def _sd_jwt(n: int) -> Callable[[], Any]:
    from identity.sdjwt import split_compact

    return lambda: split_compact("a" * n)


def _id_payload(n: int) -> Callable[[], Any]:
    from identity.transport import PREFIX, decode

    return lambda: decode(PREFIX + "0" * (n - len(PREFIX)))


def _id_container(n: int) -> Callable[[], Any]:
    from identity import transport

    data = transport._deflate(b"x" * n)
    return lambda: transport._inflate(data)


def _id_segments(n: int) -> Callable[[], Any]:
    from identity import transport

    varint = bytes([(n & 0x7F) | 0x80, n >> 7])
    return lambda: transport._restore(bytes([0]) + varint, refs=True)


def _proof(n: int) -> Callable[[], Any]:
    from identity.oid4vci.proof import check_proof

    token = _jwt_of_length({"typ": "openid4vci-proof+jwt", "alg": "ES256"}, n)
    return lambda: check_proof(token, audience="https://issuer.example", now=NOW)


def _status_list(n: int) -> Callable[[], Any]:
    from identity.status_list import StatusList

    return lambda: StatusList(size=n)


def _offer_link(n: int) -> Callable[[], Any]:
    from identity.holder.offer import parse_offer_link

    link = "openid-credential-offer://?credential_offer_uri="
    return lambda: parse_offer_link(link + "a" * (n - len(link)))


def _request_link(n: int) -> Callable[[], Any]:
    from identity.holder.respond import parse_request_link

    link = "openid4vp://?client_id=x&request_uri="
    return lambda: parse_request_link(link + "a" * (n - len(link)))


def _wallet_response(n: int) -> Callable[[], Any]:
    from identity.errors import WalletError
    from identity.holder._http import send

    client = httpx.Client(transport=httpx.MockTransport(lambda _req: httpx.Response(200, content=b"a" * n)))
    return lambda: send(client, WalletError, "issuer", "GET", "https://issuer.example/x")


def _merkle(n: int) -> Callable[[], Any]:
    from ledger.chain.merkle import compute_root

    return lambda: compute_root(b"leaf", [b"\x00" * 32] * n)


def _office_fields(extra: int) -> Callable[[], Any]:
    from ledger.offices.entries import _text

    def call() -> None:
        for name, n in L.OFFICE_FIELD_CHARS.items():
            _text({name: "a" * (n + extra)}, name)

    return call


def _office_entry(n: int) -> Callable[[], Any]:
    from ledger.offices.entries import read_entry

    return lambda: read_entry("a" * n)


def _document_payload(n: int) -> Callable[[], Any]:
    from ledger.documents.receipt import PAYLOAD_PREFIX, decode_payload

    return lambda: decode_payload(PAYLOAD_PREFIX + "A" * (n - len(PAYLOAD_PREFIX)))


def _document_fields(extra: int) -> Callable[[], Any]:
    from ledger.documents.metadata import _text

    def call() -> None:
        for name, n in L.DOCUMENT_FIELD_CHARS.items():
            _text({name: "a" * (n + extra)}, name)

    return call


def _document_number(n: int) -> Callable[[], Any]:
    from ledger.documents.metadata import parse_number

    return lambda: parse_number("2392/QĐ-UBND" + " " * (n - len("2392/QĐ-UBND")))


def _qr_bytes(n: int) -> Callable[[], Any]:
    from verifier.qr import decode_qr_image

    return lambda: decode_qr_image(b"\x00" * n)


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG")
    return out.getvalue()


def _qr_pixels(extra_rows: int) -> Callable[[], Any]:
    from verifier.qr import _open

    width = 8000
    png = _png(width, L.QR_IMAGE_PIXELS // width + extra_rows)
    return lambda: _open(png, L.QR_IMAGE_PIXELS)


def _verify_input(n: int) -> Callable[[], Any]:
    from verifier.payload import parse_payload

    return lambda: parse_payload("x" * n)


def _verify_text(n: int) -> Callable[[], Any]:
    from verifier.api.routes import _text

    return lambda: _text("a" * n, "audience")


def _purpose(n: int) -> Callable[[], Any]:
    from verifier.oid4vp.requests import parse_purpose

    return lambda: parse_purpose("a" * n)


def _register(n: int) -> Callable[[], Any]:
    from verifier.signer_authority import bundle_register

    return lambda: bundle_register({"signer_authority": {"agency_id": "ubnd-hcm", "entries": [{}] * n}})


def _offline_registry(n: int) -> Callable[[], Any]:
    from verifier._offline_format import registry_section

    z = base64.urlsafe_b64encode(zlib.compress(b" " * n)).rstrip(b"=").decode()
    return lambda: registry_section({"registry_z": z})


def _third_party(n: int) -> Callable[[], Any]:
    from verifier.third_party import TrustListUnavailable, _get

    client = httpx.Client(transport=httpx.MockTransport(lambda _req: httpx.Response(200, content=b"a" * n)))
    return lambda: _get(client, "https://xacthuc.example/v1/trust-list", "application/jwt", TrustListUnavailable, "x")


def _import_rows(n: int) -> Callable[[], Any]:
    from xacthuc.web.agency._import import _rows

    return lambda: _rows(json.dumps([{"fields": {}, "file": "a.pdf"}] * n))


def _audit_page(n: int) -> Callable[[], Any]:
    from xacthuc.audit import AuditQuery

    return lambda: AuditQuery(limit=n)


def _backup_line(n: int) -> Callable[[], Any]:
    from xacthuc.backup.sealed_file import _read_line

    return lambda: _read_line(io.BytesIO(b"a" * (n - 1) + b"\n"), "header")


def _upload(n: int) -> Callable[[], Any]:
    """The app's outermost size guard with the default limit, given a Content-Length of ``n``."""
    from xacthuc.app import _UploadLimit
    from xacthuc.settings import Settings

    class Refused(XacthucError):
        code = "PAYLOAD_TOO_LARGE"

    async def app(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def call() -> None:
        sent: list[dict[str, Any]] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        limit = Settings(_env_file=None).upload_limit
        scope = {"type": "http", "headers": [(b"content-length", str(n).encode())]}
        asyncio.run(_UploadLimit(app, limit)(scope, receive, send))
        if sent[0]["status"] == 413:
            raise Refused(json.loads(sent[1]["body"])["error"]["message"])

    return call


def _at_and_past(limit: str, make: Callable[[int], Callable[[], Any]], code: str, value: int | None = None) -> Case:
    n = int(getattr(L, limit)) if value is None else value
    return Case(limit, make(n), make(n + 1), code, limit)


CASES = [
    _at_and_past("UPLOAD_BYTES", _upload, "PAYLOAD_TOO_LARGE"),
    _at_and_past("JSON_DEPTH", _json_depth, "JSON_TOO_DEEP"),
    _at_and_past("VERIFY_TEXT_CHARS", _verify_text, "INPUT_TOO_LARGE"),
    _at_and_past("AUDIT_PAGE", _audit_page, "INVALID_INPUT"),
    _at_and_past("IMPORT_CHUNK_ROWS", _import_rows, "INVALID_INPUT"),
    Case("DOCUMENT_FIELD_CHARS", _document_fields(0), _document_fields(1), "DOC_FIELD_INVALID", "DOCUMENT_FIELD_CHARS"),
    _at_and_past("DOCUMENT_NUMBER_INPUT_CHARS", _document_number, "DOC_NUMBER_INVALID"),
    Case("OFFICE_FIELD_CHARS", _office_fields(0), _office_fields(1), "OFFICE_FIELD_INVALID", "OFFICE_FIELD_CHARS"),
    _at_and_past("PURPOSE_CHARS", _purpose, "INVALID_INPUT"),
    _at_and_past("PASSWORD_CHARS", _password, "STAFF_INPUT_INVALID"),
    _at_and_past("JWS_CHARS", _jws, "JWS_MALFORMED"),
    _at_and_past("X509_TOKEN_CHARS", _x509, "JWS_MALFORMED"),
    _at_and_past("SD_JWT_CHARS", _sd_jwt, "SDJWT_MALFORMED"),
    _at_and_past("OID4VCI_PROOF_CHARS", _proof, "OID4VCI_ERROR"),
    _at_and_past("OFFICE_ENTRY_CHARS", _office_entry, "OFFICE_FIELD_INVALID"),
    _at_and_past("VERIFY_INPUT_CHARS", _verify_input, "INPUT_TOO_LARGE"),
    _at_and_past("DOCUMENT_PAYLOAD_CHARS", _document_payload, "PAYLOAD_TOO_LARGE"),
    _at_and_past("ID_PAYLOAD_CHARS", _id_payload, "TRANSPORT_TOO_LARGE"),
    _at_and_past("ID_CONTAINER_BYTES", _id_container, "TRANSPORT_TOO_LARGE"),
    _at_and_past("ID_SEGMENTS", _id_segments, "TRANSPORT_INVALID"),
    _at_and_past("QR_IMAGE_BYTES", _qr_bytes, "IMAGE_TOO_LARGE"),
    Case("QR_IMAGE_PIXELS", _qr_pixels(0), _qr_pixels(1), "IMAGE_TOO_LARGE", "QR_IMAGE_PIXELS"),
    _at_and_past("MERKLE_PROOF_NODES", _merkle, "MERKLE_PROOF_TOO_LONG"),
    _at_and_past("REGISTER_ENTRIES", _register, "BUNDLE_INVALID"),
    Case(
        "STATUS_LIST_BITS",
        _status_list(L.STATUS_LIST_BITS),
        _status_list(L.STATUS_LIST_BITS + 8),
        "STATUS_LIST_INVALID",
        "STATUS_LIST_BITS",
    ),
    _at_and_past("OFFLINE_REGISTRY_BYTES", _offline_registry, "OFFLINE_BUNDLE_INVALID"),
    _at_and_past("WALLET_RESPONSE_BYTES", _wallet_response, "WALLET_ERROR"),
    Case(
        "WALLET_LINK_CHARS",
        _offer_link(L.WALLET_LINK_CHARS),
        _offer_link(L.WALLET_LINK_CHARS + 1),
        "WALLET_LINK_INVALID",
        "WALLET_LINK_CHARS-offer",
    ),
    Case(
        "WALLET_LINK_CHARS",
        _request_link(L.WALLET_LINK_CHARS),
        _request_link(L.WALLET_LINK_CHARS + 1),
        "WALLET_LINK_INVALID",
        "WALLET_LINK_CHARS-request",
    ),
    _at_and_past("THIRD_PARTY_RESPONSE_BYTES", _third_party, "TRUST_LIST_UNAVAILABLE"),
    _at_and_past("BACKUP_LINE_BYTES", _backup_line, "BACKUP_DAMAGED"),
]

#: Limits proven at and past elsewhere, by test name (the server's timeouts need the real server; chain walks need
#: a database or a chain of links built by their own suites).
ELSEWHERE = {
    "HEADER_TIMEOUT_SECONDS": [
        "tests/security/test_slow_client.py::test_slowloris_headers_are_cut_off",
        "tests/security/test_slow_client.py::test_silent_connection_is_closed",
        "tests/security/test_slow_client.py::test_headers_sent_slowly_but_within_the_timeout_are_served",
    ],
    "HEADER_BYTES": [
        "tests/security/test_slow_client.py::test_headers_at_the_size_limit_are_served",
        "tests/security/test_slow_client.py::test_headers_past_the_size_limit_are_refused",
        "tests/security/test_slow_client.py::test_endless_headers_are_refused",
    ],
    "BODY_GRACE_SECONDS": [
        "tests/security/test_slow_client.py::test_body_below_the_floor_within_the_grace_is_read",
        "tests/security/test_slow_client.py::test_body_slower_than_the_floor_is_cut_off",
    ],
    "BODY_MIN_BYTES_PER_SECOND": ["tests/security/test_slow_client.py::test_body_slower_than_the_floor_is_cut_off"],
    "KEEP_ALIVE_SECONDS": ["tests/security/test_slow_client.py::test_idle_keep_alive_connection_is_closed"],
    "SUPERSESSION_LINKS": ["tests/verifier/test_supersession_chain.py::test_supersession_chain_is_bounded"],
    "THIRD_PARTY_TIMEOUT_SECONDS": [
        "tests/security/test_limits.py::test_third_party_verifier_waits_at_most_its_timeout"
    ],
    "OID4VCI_BODY_BYTES": ["tests/security/test_limits.py::test_oid4vci_body_at_and_past_the_limit"],
    "OID4VP_FORM_BYTES": ["tests/security/test_limits.py::test_oid4vp_form_at_and_past_the_limit"],
    "DOCUMENT_BATCH": ["tests/security/test_limits.py::test_document_batch_at_and_past_the_limit"],
    "REPLACEMENT_CHAIN": [
        "tests/security/test_limits_rest.py::test_replacement_cycle_at_the_chain_limit_is_refused_as_a_cycle",
        "tests/security/test_limits_rest.py::test_replacement_cycle_past_the_chain_limit_is_still_refused",
    ],
    "PDF_STAMP_PAYLOAD_HEX": [
        "tests/security/test_limits_rest.py::test_pdf_stamp_payload_at_the_limit_is_found",
        "tests/security/test_limits_rest.py::test_pdf_stamp_payload_past_the_limit_is_not_found",
    ],
    "PDF_STAMP_CANDIDATES": [
        "tests/security/test_limits_rest.py::test_pdf_stamp_at_the_last_candidate_is_found",
        "tests/security/test_limits_rest.py::test_pdf_stamp_past_the_candidate_limit_is_not_found",
        "tests/security/test_limits_rest.py::test_outer_stamp_past_the_candidate_limit_is_never_shown_valid",
    ],
    "BACKUP_MEMBER_BYTES": [
        "tests/security/test_limits_rest.py::test_backup_member_at_the_size_limit_passes_the_check",
        "tests/security/test_limits_rest.py::test_backup_member_past_the_size_limit_is_refused",
    ],
}

#: Limits with no test at and past them yet, and why (docs/limits.md says the same): none left.
UNTESTED: dict[str, str] = {}


def _limit_names() -> list[str]:
    return [n for n in vars(L) if n.isupper() and not n.startswith("_")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_value_at_the_limit_is_accepted(case: Case) -> None:
    at, past = _outcome(case.at), _outcome(case.past)
    assert past is not None
    # at the limit the input passes the limit's check: it is accepted, or refused later for another reason
    assert at is None or at != past, f"{case.limit}: the value at the limit was refused as the one past it: {at}"


@pytest.mark.attack
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_value_past_the_limit_is_refused(case: Case) -> None:
    past = _outcome(case.past)
    assert past is not None, f"{case.limit}: one past the limit was accepted"
    assert past[0] == case.code, past


def test_every_limit_is_tested_and_documented() -> None:
    doc = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    tested = {c.limit for c in CASES} | set(ELSEWHERE) | set(UNTESTED)
    names = _limit_names()
    assert len(names) >= 40
    assert sorted(set(names) - tested) == [], "add the limit to the table above"
    assert sorted(n for n in names if f"`{n}`" not in doc) == [], "add the limit to docs/limits.md"
    assert sorted(tested - set(names)) == [], "the table names a limit keys/limits.py no longer has"


def test_tests_named_for_limits_elsewhere_exist() -> None:
    for names in ELSEWHERE.values():
        for name in names:
            path, test = name.split("::")
            assert f"def {test}(" in (ROOT / path).read_text(encoding="utf-8"), name


def test_enforcing_modules_read_keys_limits() -> None:
    """The old names are aliases of the values here, not copies that could drift."""
    from identity import transport
    from identity.status_list import MAX_BITS
    from keys.json_depth import MAX_JSON_DEPTH
    from keys.staff import MAX_PASSWORD
    from ledger.api.routes import MAX_BATCH
    from ledger.documents.issuing import MAX_FILE_BYTES
    from verifier import qr
    from xacthuc.settings import Settings

    assert (MAX_JSON_DEPTH, MAX_PASSWORD, MAX_BATCH, MAX_FILE_BYTES, MAX_BITS) == (
        L.JSON_DEPTH,
        L.PASSWORD_CHARS,
        L.DOCUMENT_BATCH,
        L.UPLOAD_BYTES,
        L.STATUS_LIST_BITS,
    )
    assert (transport.MAX_PAYLOAD_CHARS, qr.DEFAULT_MAX_PIXELS) == (L.ID_PAYLOAD_CHARS, L.QR_IMAGE_PIXELS)
    assert Settings(_env_file=None).upload_limit == L.UPLOAD_BYTES


def test_third_party_verifier_waits_at_most_its_timeout() -> None:
    from verifier import third_party

    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, content=b"{}")

    assert inspect.signature(third_party._get).parameters["timeout"].default == L.THIRD_PARTY_TIMEOUT_SECONDS
    third_party._get(
        httpx.Client(transport=httpx.MockTransport(handler)),
        "https://xacthuc.example/x",
        "application/json",
        third_party.TrustListUnavailable,
        "x",
    )
    assert seen and all(v == L.THIRD_PARTY_TIMEOUT_SECONDS for v in seen[0].values())


# -------------------------------------------------------------------------------------------- through the HTTP API
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.security._hostile import build_world

    with build_world(tmp_path_factory.mktemp("limits")) as w:
        yield w


def _error(r: httpx.Response) -> str:
    body = r.json()
    return str(body["error"]["code"] if isinstance(body["error"], dict) else body["error"])


@pytest.mark.attack
def test_document_batch_at_and_past_the_limit(world: Any) -> None:
    key = world.auth("ubnd-hcm")
    at = world.client.post("/v1/documents:batch", json={"documents": [{}] * L.DOCUMENT_BATCH}, headers=key)
    past = world.client.post("/v1/documents:batch", json={"documents": [{}] * (L.DOCUMENT_BATCH + 1)}, headers=key)
    assert 400 <= past.status_code < 500 and _error(past) == "INVALID_INPUT", past.text
    assert f"1 to {L.DOCUMENT_BATCH}" in past.text and f"1 to {L.DOCUMENT_BATCH}" not in at.text
    assert at.status_code < 500


@pytest.mark.attack
def test_oid4vci_body_at_and_past_the_limit(world: Any) -> None:
    def post(n: int) -> httpx.Response:
        body = b"grant_type=x&pad=" + b"a" * (n - len(b"grant_type=x&pad="))
        return world.client.post(  # type: ignore[no-any-return]
            "/oid4vci/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    at, past = post(L.OID4VCI_BODY_BYTES), post(L.OID4VCI_BODY_BYTES + 1)
    assert 400 <= past.status_code < 500 and past.json()["error"] == "invalid_request", past.text
    assert at.status_code < 500 and at.json() != past.json()


@pytest.mark.attack
def test_oid4vp_form_at_and_past_the_limit(world: Any) -> None:
    def post(n: int) -> httpx.Response:
        body = b"state=x&vp_token=x&pad=" + b"a" * (n - len(b"state=x&vp_token=x&pad="))
        return world.client.post(  # type: ignore[no-any-return]
            "/oid4vp/responses/unknown", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    at, past = post(L.OID4VP_FORM_BYTES), post(L.OID4VP_FORM_BYTES + 1)
    assert 400 <= past.status_code < 500 and "too large" in past.json()["error_description"], past.text
    assert at.status_code < 500 and "too large" not in at.text


@pytest.mark.attack
def test_json_depth_and_verify_text_past_the_limit_are_4xx_through_http(world: Any) -> None:
    deep = b'{"payload": ' + b"[" * L.JSON_DEPTH + b"]" * L.JSON_DEPTH + b"}"  # one deeper than the limit
    r = world.client.post("/v1/verify", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and _error(r) == "JSON_TOO_DEEP"
    r = world.client.post("/v1/verify", json={"payload": "XD1:A", "audience": "a" * (L.VERIFY_TEXT_CHARS + 1)})
    assert 400 <= r.status_code < 500 and _error(r) == "INPUT_TOO_LARGE", r.text
    r = world.client.post("/v1/verify", json={"payload": "XD1:A", "audience": "a" * L.VERIFY_TEXT_CHARS})
    assert r.status_code < 500 and "INPUT_TOO_LARGE" not in r.text
    r = world.client.get(f"/v1/audit?limit={L.AUDIT_PAGE + 1}", headers=world.auth("city_admin"))
    assert r.status_code == 422
    assert world.client.get(f"/v1/audit?limit={L.AUDIT_PAGE}", headers=world.auth("city_admin")).status_code == 200
