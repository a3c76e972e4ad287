"""Symbols (issue 10): the type part of a number's symbol is a type of Decree 30/2020/NĐ-CP, Appendix III; ``QD``
typed without the Vietnamese letter is read as ``QĐ``, stored so, and the answer says so; an unknown type
(``2392/XYZ``) is refused, naming the nearest valid ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from ledger.chain.client import RegistryClient
from ledger.documents.errors import DocumentSymbolUnknown
from ledger.documents.metadata import DOCUMENT_TYPES, nearest_types, number_notice, parse_number
from tests.ledger._issuing_api import Api, issuing_api

# Decree 30/2020/NĐ-CP, Appendix III, part I: the 27 administrative documents and the 3 kinds of copy.
APPENDIX_III = {
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "QC": "Quy chế",
    "QyĐ": "Quy định",
    "TC": "Thông cáo",
    "TB": "Thông báo",
    "HD": "Hướng dẫn",
    "CTr": "Chương trình",
    "KH": "Kế hoạch",
    "PA": "Phương án",
    "ĐA": "Đề án",
    "DA": "Dự án",
    "BC": "Báo cáo",
    "BB": "Biên bản",
    "TTr": "Tờ trình",
    "HĐ": "Hợp đồng",
    "CĐ": "Công điện",
    "BGN": "Bản ghi nhớ",
    "BTT": "Bản thỏa thuận",
    "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời",
    "GGT": "Giấy giới thiệu",
    "GNP": "Giấy nghỉ phép",
    "PG": "Phiếu gửi",
    "PC": "Phiếu chuyển",
    "PB": "Phiếu báo",
    "SY": "Bản sao y",
    "TrS": "Bản trích sao",
    "SL": "Bản sao lục",
}


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    yield from issuing_api(engine, tmp_path, registry)


# ------------------------------------------------------------------------------------------------------- parser
@pytest.mark.parametrize("abbr", sorted(APPENDIX_III))
def test_every_decree_30_appendix_type_is_accepted(abbr: str) -> None:
    number = parse_number(f"12/{abbr}-UBND")
    assert number.type_abbr == abbr and number.kind_name == APPENDIX_III[abbr] == DOCUMENT_TYPES[abbr]
    assert str(number) == f"12/{abbr}-UBND" and number_notice(str(number), number) is None


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("2392/QD-UBND", "2392/QĐ-UBND"),
        ("2392/qd-ubnd", "2392/QĐ-UBND"),
        ("3/QYD-UBND", "3/QyĐ-UBND"),
        ("15/2024/ND-CP", "15/2024/NĐ-CP"),
        ("7/CD-UBND", "7/CĐ-UBND"),
    ],
)
def test_qd_without_the_vietnamese_letter_is_read_as_qd(typed: str, canonical: str) -> None:
    number = parse_number(typed)
    assert str(number) == canonical
    notice = number_notice(typed, number)
    assert notice is not None and notice.code == "DOC_NUMBER_NORMALISED" and notice.field == "number"
    assert canonical in notice.vi and canonical in notice.en and typed in notice.en
    assert f"is read as {number.type_abbr}" in notice.en and f"được hiểu là {number.type_abbr}" in notice.vi


def test_hd_and_da_keep_their_own_types_without_the_vietnamese_letter() -> None:
    # HD (Hướng dẫn) and DA (Dự án) are types of their own: HĐ (Hợp đồng) and ĐA (Đề án) need their Đ.
    assert parse_number("5/HD-UBND").type_abbr == "HD" and parse_number("5/HĐ-UBND").type_abbr == "HĐ"
    assert parse_number("5/DA-UBND").type_abbr == "DA" and parse_number("5/ĐA-UBND").type_abbr == "ĐA"


def test_a_number_already_canonical_or_with_only_spaces_and_so_gets_no_notice() -> None:
    for typed in ("2392/QĐ-UBND", " Số: 2392 / QĐ - UBND "):
        assert number_notice(typed, parse_number(typed)) is None


@pytest.mark.parametrize("typed", ["2392/XYZ", "2392/xyz", "15/2024/XYZ-CP", "2392/QDD", "12/UBND"])
def test_unknown_type_is_refused_with_the_nearest_types(typed: str) -> None:
    with pytest.raises(DocumentSymbolUnknown) as info:
        parse_number(typed)
    error = info.value
    assert (error.code, error.field, error.http_status) == ("DOC_SYMBOL_UNKNOWN", "number", 422)
    assert len(error.nearest) == 5 and all(label in error.message for label in error.nearest)
    assert "Decree 30/2020/NĐ-CP" in error.message and "12/UBND-VX" in error.message  # what a công văn looks like


def test_nearest_types_rank_by_edit_distance() -> None:
    assert nearest_types("QDD")[0] == "QĐ"
    assert nearest_types("TTR")[0] == "TTr"
    assert nearest_types("GMM")[0] == "GM"
    assert set(nearest_types("XYZ", n=40)) == set(DOCUMENT_TYPES)


def test_cong_van_symbol_is_the_body_and_the_unit() -> None:
    # Decree 30, Appendix I: a công văn has no type; its symbol is the issuing body and the drafting unit. CV, outside
    # the appendix but in wide use, is read as a công văn too.
    for typed, body in (("12/UBND-VX", "UBND-VX"), ("12/CV-UBND", "UBND")):
        number = parse_number(typed)
        assert number.kind_name == "Công văn" and number.body_abbr == body


# ------------------------------------------------------------------------------------------------ POST /v1/documents
def test_number_normalised_notice_in_the_api_answer(api: Api) -> None:
    r = api.issue(number="2392/QD-UBND")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["metadata"]["number"] == body["receipt"]["number"] == "2392/QĐ-UBND"  # stored and signed canonical
    [notice] = body["notices"]
    assert notice["code"] == "DOC_NUMBER_NORMALISED" and notice["field"] == "number"
    assert "QD được hiểu là QĐ (Quyết định)" in notice["message"]["vi"]
    assert "QD is read as QĐ (Quyết định)" in notice["message"]["en"]
    shown = api.client.get(f"/v1/documents/{body['id']}").json()
    assert shown["number"] == "2392/QĐ-UBND"
    # and a canonical number has none
    r = api.issue(number="2393/QĐ-UBND", file=b"another")
    assert r.status_code == 201 and r.json()["notices"] == []


def test_number_normalised_notice_in_a_batch_answer(api: Api) -> None:
    r = api.batch([({"number": "1/QD-UBND"}, b"one"), ({"number": "2/QĐ-UBND"}, b"two")])
    assert r.status_code == 201, r.text
    first, second = r.json()["documents"]
    assert [n["code"] for n in first["notices"]] == ["DOC_NUMBER_NORMALISED"] and second["notices"] == []


def test_unknown_symbol_is_refused_by_post_documents(api: Api) -> None:
    r = api.issue(number="2392/XYZ")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "DOC_SYMBOL_UNKNOWN" and error["field"] == "number"
    assert "QyĐ (Quy định)" in error["message"]
    r = api.batch([({"number": "1/QĐ-UBND"}, b"one"), ({"number": "2/XYZ"}, b"two")])
    assert r.status_code == 422 and r.json()["error"]["code"] == "DOC_SYMBOL_UNKNOWN"
    assert r.json()["error"]["message"].startswith("documents[1]: ")
