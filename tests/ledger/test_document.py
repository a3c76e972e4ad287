"""The Decree 30 document model: number parsing, field validation, NFC, and the canonical metadata digest."""

from __future__ import annotations

import hashlib
import json
import operator
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.errors import InvalidInput
from ledger.documents.errors import DocumentFieldInvalid, DocumentFieldMissing, DocumentNumberInvalid
from ledger.documents.metadata import (
    DOCUMENT_FIELDS,
    Document,
    metadata_digest,
    normalize_text,
    parse_document,
    parse_number,
)

VECTORS = Path(__file__).parents[1] / "vectors" / "documents"
NUMBERS = json.loads((VECTORS / "numbers.json").read_text("utf-8"))
METADATA = json.loads((VECTORS / "metadata.json").read_text("utf-8"))


def fields(**overrides: Any) -> dict[str, Any]:
    base = dict(METADATA["fields"])
    base.update(overrides)
    return base


@pytest.mark.parametrize("case", NUMBERS["valid"], ids=lambda c: c["id"])
def test_number_vectors_parse(case: dict[str, Any]) -> None:
    n = parse_number(case["input"])
    assert str(n) == case["canonical"]
    assert (n.serial, n.year, n.type_abbr, n.body_abbr) == (case["serial"], case["year"], case["type"], case["body"])
    assert n.kind_name == case["kind"]
    assert parse_number(str(n)) == n  # canonical form is a fixed point


@pytest.mark.parametrize("case", NUMBERS["invalid"], ids=lambda c: c["id"])
def test_number_vectors_refused(case: dict[str, Any]) -> None:
    with pytest.raises(DocumentNumberInvalid) as info:
        parse_number(case["input"])
    assert info.value.code == case["code"]
    assert info.value.field == "number"
    assert info.value.http_status == 422


@given(st.text(max_size=120))
def test_number_parser_only_raises_typed_errors(text: str) -> None:
    try:
        n = parse_number(text)
    except DocumentNumberInvalid:
        return
    assert parse_number(str(n)) == n


def test_metadata_digest_vector() -> None:
    doc = parse_document(fields())
    assert doc.to_dict() == METADATA["normalized"]
    assert metadata_digest(doc).hex() == METADATA["digest"]


def test_metadata_digest_matches_the_spec_written_out() -> None:
    # docs/qr-payload.md, "Metadata digest", done by hand.
    doc = parse_document(fields())
    h = hashlib.sha256(b"xacthuc:document-metadata:v1")
    for name in DOCUMENT_FIELDS:
        data = (doc.to_dict()[name] or "").encode("utf-8")
        h.update(len(data).to_bytes(4, "big") + data)
    assert doc.digest() == h.digest()


def test_nfd_input_gives_the_same_digest() -> None:
    nfc = parse_document(fields())
    nfd = parse_document({k: unicodedata.normalize("NFD", v) for k, v in fields().items()})
    assert nfd.title != unicodedata.normalize("NFD", nfc.title)  # really was decomposed on the way in
    assert nfd == nfc
    assert nfd.digest() == nfc.digest()


def test_whitespace_is_collapsed_before_hashing() -> None:
    a = parse_document(fields(title="Về việc   phê duyệt\nkế hoạch"))
    b = parse_document(fields(title=" Về việc phê duyệt kế hoạch "))
    assert a.digest() == b.digest()


def test_every_field_changes_the_digest() -> None:
    base = parse_document(fields()).digest()
    changes = {
        "number": "2393/QĐ-UBND",
        "title": "Khác",
        "issuing_body": "Sở Nội vụ",
        "place": "Hà Nội",
        "issued_on": "2024-07-16",
        "signer_name": "Trần Thị B",
        "signer_title": "Chủ tịch",
        "signing_form": "TM.",
    }
    digests = {parse_document(fields(**{k: v})).digest() for k, v in changes.items()}
    assert base not in digests and len(digests) == len(changes)
    assert parse_document(fields(signing_form=None)).digest() != base


def test_field_boundaries_cannot_be_shifted() -> None:
    a = parse_document(fields(signer_name="Nguyễn Văn", signer_title="A Phó Chủ tịch"))
    b = parse_document(fields(signer_name="Nguyễn Văn A", signer_title="Phó Chủ tịch"))
    assert a.digest() != b.digest()


@pytest.mark.parametrize("name", [f for f in DOCUMENT_FIELDS if f != "signing_form"])
def test_missing_field_is_named(name: str) -> None:
    data = fields()
    del data[name]
    with pytest.raises(DocumentFieldMissing) as info:
        parse_document(data)
    assert info.value.field == name
    assert info.value.code == "DOC_FIELD_MISSING"
    assert info.value.http_status == 422
    assert info.value.to_dict()["field"] == name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("title", "   "),
        ("title", "x" * 2001),
        ("title", 12),
        ("place", "Hà\x00Nội"),
        ("signer_name", "A\u200bB"),
        ("issued_on", "15/07/2024"),
        ("issued_on", "20240715"),
        ("issued_on", "2024-02-30"),
        ("issued_on", "1900-01-01"),
        ("issued_on", datetime(2024, 7, 15)),
        ("signing_form", "THAY MẶT"),
        ("signing_form", 3),
        ("colour", "red"),
    ],
)
def test_bad_field_is_named(name: str, value: Any) -> None:
    with pytest.raises(DocumentFieldInvalid) as info:
        parse_document(fields(**{name: value}))
    assert info.value.field == name
    assert isinstance(info.value, InvalidInput)


def test_year_in_number_must_match_issued_on() -> None:
    with pytest.raises(DocumentNumberInvalid):
        parse_document(fields(number="15/2023/NĐ-CP"))
    assert parse_document(fields(number="15/2024/NĐ-CP")).number.year == 2024


def test_future_issue_date_refused_with_a_clock() -> None:
    parse_document(fields(issued_on="2024-07-15"), today=date(2024, 7, 15))
    with pytest.raises(DocumentFieldInvalid) as info:
        parse_document(fields(issued_on="2024-07-16"), today=date(2024, 7, 15))
    assert info.value.field == "issued_on"


@pytest.mark.parametrize(
    ("raw", "canonical"), [("tm", "TM."), ("KT.", "KT."), ("tl.", "TL."), ("TUQ", "TUQ."), ("", None)]
)
def test_signing_form_normalised(raw: str, canonical: str | None) -> None:
    assert parse_document(fields(signing_form=raw)).signing_form == canonical


def test_date_object_accepted() -> None:
    doc = parse_document(fields(issued_on=date(2024, 7, 15)))
    assert isinstance(doc, Document) and doc.issued_on == date(2024, 7, 15)


def test_printable_check_refuses_exactly_the_control_and_unassigned_categories() -> None:
    # normalize_text relies on str.isprintable() after the whitespace collapse; this pins it to the spec's rule
    # (categories Cc, Cf, Cs, Co, Cn refused) for every code point of this Python's Unicode database. Whitespace is
    # collapsed to U+0020 before either rule applies. Mapped in C: a loop per code point takes seconds.
    chars = list(map(chr, range(0x110000)))
    kept = list(map(operator.not_, map(str.isspace, chars)))
    by_category = list(
        map(
            operator.and_,
            kept,
            map(frozenset({"Cc", "Cf", "Cs", "Co", "Cn"}).__contains__, map(unicodedata.category, chars)),
        )
    )
    by_isprintable = list(map(operator.and_, kept, map(operator.not_, map(str.isprintable, chars))))
    assert by_isprintable == by_category
    assert normalize_text("a\u00a0\u2028\t b\x85") == "a b"  # whitespace controls collapse, not refused


@pytest.mark.parametrize("bad", ["a\u200bb", "a\x00b", "\ue000", "x\u0378"])
def test_refused_text_is_refused_every_time_naming_each_field(bad: str) -> None:
    # normalisation is cached; a refusal is not, and names the field of each call
    for name in ("title", "place"):
        with pytest.raises(DocumentFieldInvalid, match=name):
            parse_document(fields(**{name: bad}))


def test_digest_of_the_dict_equals_the_digest_of_the_document() -> None:
    doc = parse_document(fields())
    assert metadata_digest(doc.to_dict()) == metadata_digest(doc) == doc.digest()
    long = Document(**{**doc.__dict__, "title": "Về " * 1500})  # beyond the cached length, built directly
    assert metadata_digest(long) == metadata_digest(long.to_dict())
    assert metadata_digest(long) != doc.digest()


def test_symbols_are_checked_every_time() -> None:
    for _ in range(2):
        with pytest.raises(DocumentNumberInvalid, match="symbol"):
            parse_number("12/QĐ-UB_ND")
        with pytest.raises(DocumentNumberInvalid, match="missing"):
            parse_number("12/QĐ")
    assert parse_number("12/qđ-ubnd").body_abbr == parse_number("13/QĐ-UBND").body_abbr == "UBND"


@given(st.lists(st.text(max_size=40), min_size=1, max_size=4), st.text(max_size=40))
def test_memoised_text_helpers_give_what_the_plain_ones_give(values: list[str], other: str) -> None:
    # normalize_text and metadata_digest memoise their per-field work (an archive repeats its values); the memo must
    # never change an answer, whether a value is seen for the first time or again
    from ledger.documents.metadata import _field_bytes, _field_bytes_memo, _normalize, _normalized, _symbol

    for value in [*values, *values, other]:
        assert _normalized(value) == _normalize(value)
        assert _field_bytes_memo(value) == _field_bytes(value)
        for with_year in (False, True):
            try:
                expected: object = _symbol.__wrapped__(value, with_year)
            except DocumentNumberInvalid as exc:
                expected = exc.message
            try:
                got: object = _symbol(value, with_year)
            except DocumentNumberInvalid as exc:
                got = exc.message
            assert got == expected
