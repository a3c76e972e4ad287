"""Issue 15, hostile inputs: each gets a typed 4xx (``{"error": {"code", "message"}}``, or the portal's error page
with its ``data-error-code``), never a 5xx, a hang or a changed record.

- bodies over the upload limit, with a Content-Length and without (chunked), on every POST route of the app's own
  route table; a Content-Length that is no number;
- malformed multipart (no boundary, truncated, a part header of 100 KB, thousands of parts and of files);
- deep JSON on every JSON route of the OpenAPI schema; huge JSON, non-JSON and JSON of the wrong shape;
- images: a 50,000 x 50,000 PNG decompression bomb of a few hundred bytes, things that are no image, and real QR
  codes (segno) carrying kilobytes of junk;
- Unicode tricks in every text field of issuing and registration, the fields read from the OpenAPI schema (a new
  field fails ``test_every_text_field_has_an_expectation`` until it has one): zero-width and bidi-override
  characters, BOM, NUL and lone surrogates are refused; NFD is accepted and stored NFC, so it names the same
  document as its NFC twin (docs/documents.md: "Every text field is NFC-normalised"); Cyrillic look-alikes are
  refused in numbers and symbols and in names, and a document with a look-alike title cannot take a number in use;
- SQL-injection and path-traversal strings in every field, path parameter, query filter and file name.

Requests run in a worker thread with a deadline (``call``), so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import re
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from sqlmodel import Session, select

from ledger.documents.table import DocumentRow
from tests.security._hostile import CITIZEN, LIMIT, META, World, build_world, route_table

pytestmark = pytest.mark.attack

DEADLINE = 60.0  # seconds one hostile request may take before it counts as a hang


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("hostile")) as w:
        yield w


@pytest.fixture(scope="module")
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
def call(world: World, executor: concurrent.futures.ThreadPoolExecutor) -> Callable[..., httpx.Response]:
    def run(method: str, url: str, **kwargs: Any) -> httpx.Response:
        future = executor.submit(world.client.request, method, url, **kwargs)
        response: httpx.Response = future.result(timeout=DEADLINE)  # TimeoutError: a hang
        return response

    return run


def _typed_4xx(r: httpx.Response, *codes: str) -> str:
    """The answer is a 4xx with a stable code (one of ``codes`` when given); returns the code."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    if r.headers.get("content-type", "").startswith("application/json"):
        code = str(r.json()["error"]["code"])
        assert r.json()["error"]["message"], r.text
    else:
        found = re.search(r'data-error-code="([A-Z0-9_]+)"', r.text)
        assert found, r.text[:500]
        code = found.group(1)
    assert re.fullmatch(r"[A-Z][A-Z0-9_]+", code), code
    if codes:
        assert code in codes, (code, codes, r.text[:500])
    return code


def _docs(world: World) -> int:
    with Session(world.engine) as session:
        return len(session.exec(select(DocumentRow.id)).all())


def _number() -> str:
    return f"{secrets.randbelow(10**6) + 1}/QĐ-UBND"


# ------------------------------------------------------------------------------------------------- body sizes
def _post_routes(world: World) -> list[str]:
    paths = sorted(p for m, p in route_table(world.client.app) if m == "POST")  # type: ignore[arg-type]
    values = {"document_id": "01J00000000000000000000000", "agency_id": "ubnd-hcm", "handle": "h"}
    return [re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x1"), p) for p in paths]


def test_oversized_bodies_are_refused_on_every_post_route(world: World, call: Callable[..., httpx.Response]) -> None:
    routes = _post_routes(world)
    assert len(routes) > 25 and "/v1/documents" in routes and "/agency/issue" in routes
    big = b"{" + b" " * LIMIT + b"}"
    with world.unchanged():
        for path in routes:
            r = call("POST", path, content=big, headers={**world.auth("ubnd-hcm"), "Content-Type": "application/json"})
            assert (r.status_code, _typed_4xx(r)) == (413, "PAYLOAD_TOO_LARGE"), path


def test_oversized_bodies_without_a_length_are_refused_on_every_post_route(
    world: World, call: Callable[..., httpx.Response]
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for _ in range(LIMIT // 8192 + 2):
            yield b"\0" * 8192

    with world.unchanged(ignore={"identity_oid4vci_nonce"}):  # the nonce endpoint reads no body, makes a nonce
        for path in _post_routes(world):
            for ctype in ("application/json", "multipart/form-data; boundary=xyz"):
                headers = {**world.auth("ubnd-hcm"), "Content-Type": ctype}
                r = call("POST", path, content=chunks(), headers=headers)
                if r.status_code != 413:  # only a route that never reads its body may answer otherwise: as to none
                    empty = call("POST", path, content=b"", headers=headers)
                    assert r.status_code == empty.status_code < 500, (path, ctype, r.status_code, r.text[:300])
                    continue
                assert _typed_4xx(r) == "PAYLOAD_TOO_LARGE", (path, ctype)


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", "0x10", " 12"])
def test_a_content_length_that_is_no_number_is_refused(
    world: World, call: Callable[..., httpx.Response], length: str
) -> None:
    # httpx sends the header as given (the test client does not recompute it for bytes content).
    with world.unchanged():
        r = call(
            "POST",
            "/v1/documents",
            content=b"x",
            headers={**world.auth("ubnd-hcm"), "Content-Length": length, "Content-Type": "application/json"},
        )
    assert r.request.headers["content-length"] == length
    assert (r.status_code, _typed_4xx(r)) == (400, "BAD_REQUEST"), r.text


# -------------------------------------------------------------------------------------------------- multipart
def _multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = io.BytesIO()
    for name, filename, data in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out.write(f"Content-Disposition: {disposition}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def _meta_parts() -> list[tuple[str, str | None, bytes]]:
    return [(k, None, v.encode()) for k, v in {**META, "number": _number()}.items()]


def _malformed_multiparts() -> dict[str, tuple[str, bytes]]:
    whole = _multipart("b0und", [*_meta_parts(), ("file", "d.pdf", b"%PDF-1.4")])
    huge_header = b'--hb\r\nContent-Disposition: form-data; name="file"; filename="a"\r\nX-Pad: ' + b"a" * 100_000
    huge_header += b"\r\n\r\nx\r\n--hb--\r\n"
    return {
        "no_boundary": ("multipart/form-data", whole),
        "empty_boundary": ("multipart/form-data; boundary=", whole),
        "wrong_boundary": ("multipart/form-data; boundary=other", whole),
        "truncated_in_a_part": ("multipart/form-data; boundary=b0und", whole[: len(whole) // 2]),
        "truncated_before_the_end": ("multipart/form-data; boundary=b0und", whole[:-10]),
        "no_closing_boundary": ("multipart/form-data; boundary=b0und", whole.replace(b"--b0und--\r\n", b"")),
        "huge_part_header": ("multipart/form-data; boundary=hb", huge_header),
        "thousands_of_parts": (
            "multipart/form-data; boundary=tp",
            _multipart("tp", [*_meta_parts(), *[(f"x{i}", None, b"1") for i in range(5000)]]),
        ),
        "thousands_of_files": (
            "multipart/form-data; boundary=tf",
            _multipart("tf", [*_meta_parts(), *[("file", f"f{i}.pdf", b"1") for i in range(3000)]]),
        ),
        "garbage": ("multipart/form-data; boundary=g", secrets.token_bytes(4000)),
        "nul_in_name": ("multipart/form-data; boundary=n", _multipart("n", [("fi\0le", "a", b"1"), *_meta_parts()])),
    }


MULTIPART_ROUTES = {"/v1/documents": "api", "/v1/verify": "public", "/agency/issue": "portal"}


@pytest.mark.parametrize("case", list(_malformed_multiparts()))
@pytest.mark.parametrize("route", list(MULTIPART_ROUTES))
def test_malformed_multipart_is_refused(
    world: World, call: Callable[..., httpx.Response], route: str, case: str
) -> None:
    ctype, body = _malformed_multiparts()[case]
    headers = {"Content-Type": ctype}
    cookies: dict[str, str] = {}
    if MULTIPART_ROUTES[route] == "api":
        headers.update(world.auth("ubnd-hcm"))
    elif MULTIPART_ROUTES[route] == "portal":
        staffer = world.sign_in("clerk.ubnd")
        headers["X-CSRF-Token"] = staffer.csrf  # the form field cannot be read from a broken body
        cookies = {"xacthuc_session": staffer.cookie}
    world.client.cookies.clear()
    for k, v in cookies.items():
        world.client.cookies.set(k, v, path="/agency")
    try:
        with world.unchanged():
            r = call("POST", route, content=body, headers=headers)
    finally:
        world.client.cookies.clear()
    _typed_4xx(r)


# ------------------------------------------------------------------------------------------------------- JSON
def _json_routes(world: World) -> list[tuple[str, str]]:
    schema = world.client.get("/openapi.json").json()
    out = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                out.append((method.upper(), path))
    return out


def test_deep_and_huge_json_is_refused_on_every_json_route(world: World, call: Callable[..., httpx.Response]) -> None:
    routes = _json_routes(world)
    assert ("POST", "/v1/citizens") in routes and ("POST", "/v1/verify") in routes
    values = {"document_id": "01J00000000000000000000000", "agency_id": "ubnd-hcm"}
    bodies = {
        "deep": (b"[" * 5000 + b"]" * 5000, {"JSON_TOO_DEEP"}),
        "deep_objects": (b'{"a":' * 3000 + b"1" + b"}" * 3000, {"JSON_TOO_DEEP"}),
        "huge_string": (json.dumps({"payload": "A" * (LIMIT - 100), "cccd": "9" * (LIMIT - 100)}).encode(), set()),
        "many_keys": (json.dumps({f"k{i}": i for i in range(20000)}).encode(), set()),
        "huge_number": (b'{"reason": 1' + b"0" * 100_000 + b"}", set()),
        "not_json": (b"{'single': quotes}", set()),
        "nan": (b'{"reason": NaN, "until": Infinity}', set()),
        "array": (b"[1, 2, 3]", set()),
        "string": (b'"just a string"', set()),
        "null": (b"null", set()),
        "bad_utf8": (b'{"reason": "\xff\xfe"}', set()),
        "lone_surrogate": (b'{"reason": "\\ud800", "payload": "\\udfff", "full_name": "\\ud800"}', set()),
    }
    with world.unchanged():
        for method, path in routes:
            url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x1"), path)
            for name, (body, codes) in bodies.items():
                headers = {
                    **world.auth("ca-hcm" if "citizen" in path else "ubnd-hcm"),
                    "Content-Type": "application/json",
                }
                r = call(method, url, content=body, headers=headers)
                if path == "/v1/verify" and r.status_code == 200:  # a verifier answers any payload with a report
                    assert r.json()["verdict"] in ("invalid", "error"), (name, r.text[:300])
                    continue
                assert r.status_code < 500, (path, name, r.text[:300])
                _typed_4xx(r, *codes) if codes else _typed_4xx(r)


# ------------------------------------------------------------------------------------------------------ images
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares ``width`` x ``height`` grey pixels (the
    IDAT holds one zlib-compressed row of zeros: decoding it all would need 2.5 GB)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1), 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _qr_png(text: str, scale: int = 2) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="l", micro=False).save(out, kind="png", scale=scale)
    return out.getvalue()


NOT_IMAGES: dict[str, bytes] = {
    "empty": b"",
    "random": bytes(range(256)) * 8,
    "pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    "png_signature_only": b"\x89PNG\r\n\x1a\n",
    "png_truncated": decompression_bomb(64, 64)[:40],
    "gif_header_garbage": b"GIF89a" + b"\xff" * 500,
    "jpeg_header_garbage": b"\xff\xd8\xff\xe0" + b"\x00" * 500,
    "svg_with_entities": b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
    "html": b"<html><script>alert(1)</script></html>",
}


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("bomb_50000x50000", decompression_bomb()),
        ("bomb_wide", decompression_bomb(1_000_000, 1)),
        ("bomb_zero_size", decompression_bomb(0, 0)),
        *NOT_IMAGES.items(),
    ],
)
def test_images_that_are_bombs_or_no_images_are_refused(
    world: World, call: Callable[..., httpx.Response], name: str, image: bytes
) -> None:
    r = call("POST", "/v1/verify", files={"image": ("x.png", image, "image/png")})
    code = _typed_4xx(r)
    if name == "bomb_50000x50000":  # refused from its header, before any decoding
        assert code == "IMAGE_TOO_LARGE", r.text


@pytest.mark.parametrize("junk", ["ascii", "binary", "link", "payload_prefix"])
def test_qr_codes_carrying_kilobytes_of_junk_are_not_valid(
    world: World, call: Callable[..., httpx.Response], junk: str
) -> None:
    text = {
        "ascii": "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(2500)),
        "binary": base64.b85encode(secrets.token_bytes(1500)).decode(),
        "link": "https://xacthuc.hochiminhcity.gov.vn/v#" + "A" * 2000,
        "payload_prefix": "XD1:" + "Z" * 2500,
    }[junk]
    image = _qr_png(text)
    r = call("POST", "/v1/verify", files={"image": ("qr.png", image, "image/png")})
    assert r.status_code < 500, r.text
    if r.status_code == 200:  # read, then judged: a report, never valid
        assert r.json()["verdict"] in ("invalid", "error"), r.text[:500]
    else:  # read, and its text refused: the junk reached the decoder (the image itself was fine)
        assert _typed_4xx(r) not in ("QR_NOT_FOUND", "IMAGE_INVALID", "IMAGE_TOO_LARGE"), r.text


# ------------------------------------------------------------------------------------------- Unicode tricks
ZWSP, RLO, BOM = "\u200b", "\u202e", "\ufeff"
CYRILLIC = str.maketrans(dict(zip("ABEKMHOPCTXaeopcyx", "АВЕКМНОРСТХаеорсух", strict=True)))

#: What each text field of issuing and registration is, and so what a trick in it must get. ``free``: any letters
#: (NFC-stored, look-alikes are other text); ``name``: Latin letters only; ``number``: ASCII and Đ only;
#: ``date``/``enum``/``code``: a fixed form.
DOCUMENT_FIELD_KINDS = {
    "number": "number",
    "title": "free",
    "issuing_body": "free",
    "place": "free",
    "issued_on": "date",
    "signer_name": "free",
    "signer_title": "free",
    "signing_form": "enum",
}
CITIZEN_FIELD_KINDS = {
    "cccd": "code",
    "full_name": "name",
    "family_name": "name",
    "given_name": "name",
    "birth_date": "date",
    "sex": "enum",
    "nationality": "code",
    "place_of_origin": "free",
    "place_of_residence": "free",
}


def _schema_fields(world: World) -> tuple[set[str], set[str]]:
    schema = world.client.get("/openapi.json").json()

    def props(node: dict[str, Any]) -> set[str]:
        while "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        return set(node["properties"])

    docs = schema["paths"]["/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    citizens = schema["paths"]["/v1/citizens"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return props(docs) - {"file"}, props(citizens)


def test_every_text_field_has_an_expectation(world: World) -> None:
    docs, citizens = _schema_fields(world)
    assert docs == set(DOCUMENT_FIELD_KINDS), docs ^ set(DOCUMENT_FIELD_KINDS)
    assert citizens == set(CITIZEN_FIELD_KINDS), citizens ^ set(CITIZEN_FIELD_KINDS)


def _refusing_tricks(value: str) -> dict[str, str]:
    """Variants of ``value`` no field may accept (but for ``line_separator``: document text collapses it, as any
    whitespace, to one space)."""
    mid = max(1, len(value) // 2)
    return {
        "zero_width_space": value[:mid] + ZWSP + value[mid:],
        "zero_width_joiner": value[:mid] + "\u200d" + value[mid:],
        "rtl_override": RLO + value,
        "bidi_isolate": value[:mid] + "\u2067" + value[mid:] + "\u2069",
        "bom": BOM + value,
        "nul": value[:mid] + "\0" + value[mid:],
        "line_separator": value[:mid] + "\u2028" + value[mid:],
    }


def _document_variants() -> Iterator[Any]:
    for field, kind in DOCUMENT_FIELD_KINDS.items():
        for trick in _refusing_tricks(META[field]):
            collapsed = trick == "line_separator" and kind in ("free", "number")  # whitespace, collapsed
            yield pytest.param(field, trick, "accepted" if collapsed else "refused", id=f"{field}-{trick}")
        if META[field].translate(CYRILLIC) != META[field]:
            homoglyph = "refused" if kind in ("number", "date", "enum") else "accepted"
            yield pytest.param(field, "cyrillic_homoglyphs", homoglyph, id=f"{field}-cyrillic_homoglyphs")
        yield pytest.param(field, "nfd", "accepted", id=f"{field}-nfd")


def _document_value(field: str, trick: str, number: str) -> str:
    value = number if field == "number" else META[field]
    if trick == "nfd":
        return unicodedata.normalize("NFD", value)
    if trick == "cyrillic_homoglyphs":
        translated = value.translate(CYRILLIC)
        assert translated != value
        return translated
    return _refusing_tricks(value)[trick]


@pytest.mark.parametrize(("field", "trick", "outcome"), list(_document_variants()))
def test_unicode_tricks_in_document_fields(
    world: World, call: Callable[..., httpx.Response], field: str, trick: str, outcome: str
) -> None:
    number = _number()
    form = {**META, "number": number, field: _document_value(field, trick, number)}
    file = {"file": ("d.pdf", secrets.token_bytes(32))}
    if outcome == "refused":
        with world.unchanged():
            r = call("POST", "/v1/documents", data=form, files=file, headers=world.auth("ubnd-hcm"))
        _typed_4xx(r)
        assert r.json()["error"].get("field") in (field, None), r.text
        return
    r = call("POST", "/v1/documents", data=form, files=file, headers=world.auth("ubnd-hcm"))
    assert r.status_code == 201, r.text
    with Session(world.engine) as session:
        row = session.get(DocumentRow, r.json()["id"])
        assert row is not None
        stored = row.metadata_dict[field]
    assert unicodedata.is_normalized("NFC", stored), ascii(stored)
    if trick == "nfd":  # NFD and NFC are one document: the same stored text, the same metadata digest
        assert stored == unicodedata.normalize("NFC", form[field])
        twin = call(
            "POST",
            "/v1/documents",
            data={**form, field: unicodedata.normalize("NFC", form[field])},
            files=file,
            headers=world.auth("ubnd-hcm"),
        )
        assert twin.status_code in (200, 201) and twin.json()["id"] == r.json()["id"], twin.text
    # Another file under the same number, whatever the look-alikes elsewhere, is no second document.
    with world.unchanged():
        again = call(
            "POST", "/v1/documents", data=form, files={"file": ("e.pdf", b"other")}, headers=world.auth("ubnd-hcm")
        )
    assert again.status_code == 409, again.text
    _typed_4xx(again)


def _citizen_variants() -> Iterator[Any]:
    for field, kind in CITIZEN_FIELD_KINDS.items():
        base = CITIZEN.get(field) or {"family_name": "Nguyễn", "given_name": "Khai", "nationality": "VN"}[field]
        for trick in _refusing_tricks(base):
            yield pytest.param(field, trick, "refused", id=f"{field}-{trick}")
        if base.translate(CYRILLIC) != base:
            homoglyph = "accepted" if kind == "free" else "refused"
            yield pytest.param(field, "cyrillic_homoglyphs", homoglyph, id=f"{field}-cyrillic_homoglyphs")
        if unicodedata.normalize("NFD", base) != base:
            yield pytest.param(field, "nfd", "accepted", id=f"{field}-nfd")


_CCCD_SERIAL = iter(range(1000, 999_999))


def _fresh_citizen() -> dict[str, str]:
    return {**CITIZEN, "cccd": CITIZEN["cccd"][:6] + f"{next(_CCCD_SERIAL):06d}"}


@pytest.mark.parametrize(("field", "trick", "outcome"), list(_citizen_variants()))
def test_unicode_tricks_in_citizen_fields(
    world: World, call: Callable[..., httpx.Response], field: str, trick: str, outcome: str
) -> None:
    body = _fresh_citizen()
    base = body.get(field) or {"family_name": "Nguyễn", "given_name": "Khai", "nationality": "VN"}[field]
    if field in ("family_name", "given_name"):
        body["full_name"] = "Nguyễn Khai"
    if trick == "nfd":
        value = unicodedata.normalize("NFD", base)
    elif trick == "cyrillic_homoglyphs":
        value = base.translate(CYRILLIC)
    else:
        value = _refusing_tricks(base)[trick]
    body[field] = value
    if outcome == "refused":
        with world.unchanged():
            r = call("POST", "/v1/citizens", json=body, headers=world.auth("ca-hcm"))
        _typed_4xx(r)
        return
    r = call("POST", "/v1/citizens", json=body, headers=world.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    from identity.models import Citizen

    with Session(world.engine) as session:
        row = session.get(Citizen, r.json()["id"])
        assert row is not None
        stored = getattr(row, field)
    assert stored == unicodedata.normalize("NFC", value).strip(), ascii(stored)
    # The same CCCD again, in the other normal form, is the same citizen: refused as existing, not a second row.
    with world.unchanged():
        twin = call(
            "POST",
            "/v1/citizens",
            json={**body, field: unicodedata.normalize("NFC", value)},
            headers=world.auth("ca-hcm"),
        )
    assert twin.status_code == 409, twin.text
    _typed_4xx(twin)


# ------------------------------------------------------------------------------------- injection and traversal
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE ledger_document;--",
    '" OR 1=1 --',
    "') UNION SELECT key_hash FROM keys_api_keys --",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "<script>alert(1)</script>",
]


def _injection_cases(world: World, call: Callable[..., httpx.Response]) -> int:
    """Every injection string in every field of issuing and registration; each accepted one is stored verbatim
    (NFC, spaces collapsed) and refused ones change nothing. Returns the number of requests made."""
    made = 0
    tables_before = set(world.snapshot())
    for attack in INJECTIONS:
        for field, kind in DOCUMENT_FIELD_KINDS.items():
            number = _number()
            form = {**META, "number": number, field: attack}
            before = _docs(world)
            r = call(
                "POST",
                "/v1/documents",
                data=form,
                files={"file": ("d.pdf", secrets.token_bytes(16))},
                headers=world.auth("ubnd-hcm"),
            )
            made += 1
            if r.status_code == 201:
                assert kind == "free", (field, attack, r.text)
                with Session(world.engine) as session:
                    row = session.get(DocumentRow, r.json()["id"])
                    assert row is not None and row.metadata_dict[field] == " ".join(attack.split())
                assert _docs(world) == before + 1
            else:
                _typed_4xx(r)
                assert _docs(world) == before
        for field, ckind in CITIZEN_FIELD_KINDS.items():
            body = {**_fresh_citizen(), field: attack}
            r = call("POST", "/v1/citizens", json=body, headers=world.auth("ca-hcm"))
            made += 1
            if r.status_code != 201:
                _typed_4xx(r)
            else:
                assert ckind == "free", (field, attack)
        # Path parameters and query filters.
        quoted = httpx.URL("/x/" + attack).raw_path.decode().removeprefix("/x/")
        for url in (
            f"/v1/documents/{quoted}",
            f"/v1/documents/{quoted}/bundle",
            f"/v1/status-lists/{quoted}",
            f"/v1/agencies/{quoted}/offices",
            f"/v1/presentation-requests/{quoted}",
        ):
            r = call("GET", url)
            made += 1
            _typed_4xx(r)
        audit = call(
            "GET", "/v1/audit", params={"agency_id": attack[:64], "actor": attack}, headers=world.auth("city_admin")
        )
        made += 1
        assert audit.status_code in (200, 422), audit.text
        if audit.status_code == 200:
            assert audit.json()["entries"] == [], (attack, audit.text[:300])  # no filter widened to every row
    assert set(world.snapshot()) == tables_before  # no table dropped or added
    return made


def test_injection_strings_in_every_field_are_stored_verbatim_or_refused(
    world: World, call: Callable[..., httpx.Response]
) -> None:
    assert _injection_cases(world, call) > 200


@pytest.mark.postgres
def test_injection_strings_on_postgresql(
    tmp_path: Path, postgres_server: Any, executor: concurrent.futures.ThreadPoolExecutor
) -> None:
    with build_world(tmp_path, postgres_server.create_database()) as pg:

        def run(method: str, url: str, **kwargs: Any) -> httpx.Response:
            response: httpx.Response = executor.submit(pg.client.request, method, url, **kwargs).result(DEADLINE)
            return response

        assert _injection_cases(pg, run) > 200


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd", "..\\..\\..\\windows\\system32\\config", "/etc/shadow", "a\0b.pdf", "x" * 5000, "%00.pdf"],
)
def test_traversal_in_file_names_writes_nothing_outside(
    world: World, call: Callable[..., httpx.Response], filename: str
) -> None:
    files_before = {p for p in world.data_dir.parent.rglob("*")}
    r = call(
        "POST",
        "/v1/documents",
        data={**META, "number": _number()},
        files={"file": (filename, b"%PDF x")},
        headers=world.auth("ubnd-hcm"),
    )
    assert r.status_code in (201, 400, 413, 422), r.text
    if r.status_code >= 400:
        _typed_4xx(r)
    written = {p for p in world.data_dir.parent.rglob("*")} - files_before
    assert not [p for p in written if "passwd" in p.name or "shadow" in p.name or "windows" in str(p)], written
    v = call("POST", "/v1/verify", files={"image": (filename, b"not an image", "image/png")})
    _typed_4xx(v)


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/../../../../etc/passwd",
        "/static/vendor/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/vendor/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fsettings.py",
        "/static/docs/..%2f..%2f..%2fapp.py",
        "/static/vendor/....//....//etc/passwd",
    ],
)
def test_path_traversal_in_static_paths_serves_nothing_outside(
    world: World, call: Callable[..., httpx.Response], path: str
) -> None:
    r = call("GET", path)
    assert r.status_code in (400, 404), (r.status_code, r.text[:200])
    assert "root:" not in r.text and "def create_app" not in r.text and "XACTHUC_" not in r.text
