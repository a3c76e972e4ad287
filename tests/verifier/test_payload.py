"""Recognising QR texts: links, bare payloads, kinds; size limits and typed refusals."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.errors import InvalidInput
from verifier.errors import InputTooLarge, PayloadUnrecognized
from verifier.payload import MAX_INPUT_CHARS, PayloadKind, parse_payload

DOC = "XD1:A00$AG9CFQC69OF.WD+CWJ63PV64H6D90Y7P"
SDJWT = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln~WyJzYWx0IiwiYSIsMV0~"


@pytest.mark.parametrize(
    "text",
    [
        DOC,
        f"  {DOC}\n",
        f"https://xacthuc.hochiminhcity.gov.vn/v#{DOC}",
        f"HTTPS://XACTHUC.HOCHIMINHCITY.GOV.VN/V#{DOC}",
        f"http://127.0.0.1:8000/v#{DOC}",
        f"https://example.gov.vn/base/v/?p={DOC.replace('+', '%2B').replace('$', '%24')}",
        f"https://example.gov.vn/v#{DOC.replace(':', '%3A')}",
    ],
)
def test_document_inputs(text: str) -> None:
    parsed = parse_payload(text)
    assert parsed.kind is PayloadKind.DOCUMENT
    assert parsed.format == "xd1"
    assert parsed.payload == DOC


def test_bytes_from_a_qr_code() -> None:
    assert parse_payload(f"https://h/v#{DOC}".encode()).payload == DOC
    with pytest.raises(PayloadUnrecognized):
        parse_payload(b"\xff\xfe")


def test_citizen_id_kinds() -> None:
    assert parse_payload("XI1:ABCDEF").kind is PayloadKind.CITIZEN_ID
    assert (parse_payload("XI2:ABCDEF").format, parse_payload("XI1:ABCDEF").format) == ("xi2", "xi1")
    parsed = parse_payload(f"https://h/v#{SDJWT}")
    assert (parsed.kind, parsed.format, parsed.payload) == (PayloadKind.CITIZEN_ID, "sd-jwt", SDJWT)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "XD9:ABC",
        "XI3:ABC",
        "https://evil.example/login#XD1:ABC",
        "https://h/v",
        "https://h/v#",
        "https://h/v?p=a&p=b",
        "https://[::1/v#XD1:A",
        "eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln",  # a JWT without disclosures is not an SD-JWT presentation
    ],
)
def test_unrecognized(text: str) -> None:
    with pytest.raises(PayloadUnrecognized) as info:
        parse_payload(text)
    assert info.value.http_status == 422


def test_oversized_input_refused_before_parsing() -> None:
    for big in ("XD1:" + "0" * MAX_INPUT_CHARS, b"X" * (MAX_INPUT_CHARS + 1)):
        with pytest.raises(InputTooLarge) as info:
            parse_payload(big)
        assert info.value.http_status == 413


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_input_gives_typed_errors(value: str | bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_payload(value)


@given(st.text(max_size=300))
def test_random_links_give_typed_errors(value: str) -> None:
    for prefix in ("https://h/v#", "https://h/v?p=", "http://", "https://"):
        with contextlib.suppress(InvalidInput):
            parse_payload(prefix + value)
