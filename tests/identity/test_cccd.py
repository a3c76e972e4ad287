from __future__ import annotations

import logging
import unicodedata
from datetime import date
from typing import Any

import pytest

from identity.cccd import PROVINCES, gender_digit, parse_citizen, validate_cccd
from identity.errors import CitizenInputError
from identity.service import register_citizen
from tests.identity.conftest import CITIZEN, ISSUER, NOW


def test_sixty_three_provinces_including_hcmc() -> None:
    assert len(PROVINCES) == 63
    assert PROVINCES["079"] == "Hồ Chí Minh"
    assert PROVINCES["001"] == "Hà Nội"
    assert PROVINCES["096"] == "Cà Mau"


@pytest.mark.parametrize(
    ("cccd", "birth", "sex"),
    [
        ("079303001234", date(2003, 5, 17), "female"),
        ("001085123456", date(1985, 1, 1), "male"),
        ("096199000001", date(1999, 12, 31), "female"),
        ("048200000001", date(2000, 2, 29), "male"),
        ("031999000001", date(1899, 6, 1), "female"),
    ],
)
def test_valid_numbers(cccd: str, birth: date, sex: str) -> None:
    assert validate_cccd(cccd, birth, sex) == cccd
    assert int(cccd[3]) == gender_digit(birth.year, sex)


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("too-short", {"cccd": "07930300123"}, "cccd", "CCCD_INVALID"),
    ("too-long", {"cccd": "0793030012345"}, "cccd", "CCCD_INVALID"),
    ("letters", {"cccd": "07930300123A"}, "cccd", "CCCD_INVALID"),
    ("unicode-digits", {"cccd": "٠٧٩٣٠٣٠٠١٢٣٤"}, "cccd", "CCCD_INVALID"),
    ("unknown-province", {"cccd": "003303001234"}, "cccd", "CCCD_INVALID"),
    ("province-097", {"cccd": "097303001234"}, "cccd", "CCCD_INVALID"),
    ("century-contradicts-birth-date", {"cccd": "079103001234"}, "birth_date", "CCCD_MISMATCH"),
    ("year-digits-contradict", {"cccd": "079304001234"}, "birth_date", "CCCD_MISMATCH"),
    ("sex-contradicts", {"cccd": "079203001234"}, "sex", "CCCD_MISMATCH"),
    ("sex-unknown", {"sex": "other"}, "sex", "CITIZEN_INPUT_INVALID"),
    ("birth-date-format", {"birth_date": "17/05/2003"}, "birth_date", "CITIZEN_INPUT_INVALID"),
    ("birth-date-missing", {"birth_date": None}, "birth_date", "CITIZEN_INPUT_INVALID"),
    ("name-missing", {"full_name": ""}, "full_name", "CITIZEN_INPUT_INVALID"),
    ("name-control-char", {"full_name": "Nguyễn\x00An"}, "full_name", "CITIZEN_INPUT_INVALID"),
    ("nationality", {"nationality": "Vietnam"}, "nationality", "CITIZEN_INPUT_INVALID"),
]


@pytest.mark.parametrize(("change", "field", "code"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_a_typed_422_naming_the_field(change: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(CitizenInputError) as info:
        parse_citizen({**CITIZEN, **change}, now=NOW)
    err = info.value
    assert err.http_status == 422
    assert err.field == field
    assert err.code == code
    assert err.to_dict()["field"] == field
    assert CITIZEN["cccd"] not in str(err)


def test_names_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai")
    assert decomposed != "Nguyễn Thị Minh Khai"
    c = parse_citizen(
        {**CITIZEN, "full_name": decomposed, "place_of_residence": unicodedata.normalize("NFD", "Quận 1")}, now=NOW
    )
    assert c.full_name == "Nguyễn Thị Minh Khai"
    assert c.family_name == "Nguyễn"
    assert c.given_name == "Thị Minh Khai"
    assert c.place_of_residence == "Quận 1"
    assert c.nationality == "VN"


def test_the_number_is_never_logged_or_shown(caplog: pytest.LogCaptureFixture, session: Any) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    for bad in ("079103001234", "003303001234"):
        with pytest.raises(CitizenInputError):
            parse_citizen({**CITIZEN, "cccd": bad}, now=NOW)
    assert CITIZEN["cccd"] not in caplog.text
    assert "079103001234" not in caplog.text
    assert CITIZEN["cccd"] not in repr(citizen)
    assert CITIZEN["cccd"] not in repr(parse_citizen(CITIZEN, now=NOW))
