"""Citizen input: the 12-digit CCCD number (Circular 07/2016/TT-BCA, amended by 59/2021) and the registry fields.

A CCCD number is ``PPP`` (province of birth registration) + ``G`` (century and sex) + ``YY`` (birth year) + six
random digits. It reveals province, sex and birth year, so it is never logged and never put in an error message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from identity.errors import CccdInvalid, CccdMismatch, CitizenInputError

PROVINCES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

# Century and sex digit: even = male, odd = female; pairs step through the centuries, 8/9 wrapping to the 1800s.
_CENTURY_BASE = {0: 1900, 2: 2000, 4: 2100, 6: 2200, 8: 1800}
SEXES = ("male", "female")


def gender_digit(birth_year: int, sex: str) -> int:
    """The fourth CCCD digit for a birth year and sex."""
    century = birth_year // 100 * 100
    base = {v: k for k, v in _CENTURY_BASE.items()}.get(century)
    if base is None:
        raise CitizenInputError("birth_date", "birth_date is outside the years a CCCD can encode")
    return base + (1 if sex == "female" else 0)


def validate_cccd(cccd: str, birth_date: date, sex: str) -> str:
    """Check a CCCD number against the birth date and sex; return it. Errors name the field, never the number."""
    if not isinstance(cccd, str) or len(cccd) != 12 or not cccd.isascii() or not cccd.isdigit():
        raise CccdInvalid("cccd", "cccd must be exactly 12 digits")
    if cccd[:3] not in PROVINCES:
        raise CccdInvalid("cccd", "cccd starts with an unknown province code")
    if sex not in SEXES:
        raise CitizenInputError("sex", "sex must be 'male' or 'female'")
    g = int(cccd[3])
    base = _CENTURY_BASE[g - g % 2]
    if g % 2 != (1 if sex == "female" else 0):
        raise CccdMismatch("sex", "sex contradicts the cccd century/sex digit")
    if base != birth_date.year // 100 * 100:
        raise CccdMismatch("birth_date", "birth_date contradicts the cccd century digit")
    if int(cccd[4:6]) != birth_date.year % 100:
        raise CccdMismatch("birth_date", "birth_date contradicts the cccd birth year digits")
    return cccd


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def split_name(full_name: str) -> tuple[str, str]:
    """(family_name, given_name): Vietnamese names put the family name first; the rest is middle and given name."""
    parts = full_name.split()
    if len(parts) == 1:
        return "", parts[0]
    return parts[0], " ".join(parts[1:])


@dataclass(frozen=True)
class CitizenInput:
    """Validated registry fields. Build it with :func:`parse_citizen`."""

    cccd: str
    full_name: str
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    nationality: str
    place_of_origin: str
    place_of_residence: str

    def __repr__(self) -> str:  # keep the number out of tracebacks and debug output
        return f"CitizenInput(cccd='***', full_name={self.full_name!r})"


def _text(data: Mapping[str, Any], field: str, *, required: bool = True, default: str = "", limit: int = 200) -> str:
    value = data.get(field, None)
    if value is None:
        if required:
            raise CitizenInputError(field, f"{field} is required")
        return default
    if not isinstance(value, str):
        raise CitizenInputError(field, f"{field} must be a string")
    value = nfc(value)
    if (required and not value) or len(value) > limit or any(unicodedata.category(c) == "Cc" for c in value):
        raise CitizenInputError(field, f"{field} is empty, too long or has control characters")
    return value


def _birth_date(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise CitizenInputError("birth_date", "birth_date must be a date YYYY-MM-DD")


def parse_citizen(data: Mapping[str, Any]) -> CitizenInput:
    """Validate and normalise the registry JSON (``cccd``, ``full_name``, ``birth_date``, ``sex``, ...)."""
    birth_date = _birth_date(data.get("birth_date"))
    sex = data.get("sex")
    if sex not in SEXES:
        raise CitizenInputError("sex", "sex must be 'male' or 'female'")
    cccd = data.get("cccd")
    validate_cccd(cccd if isinstance(cccd, str) else "", birth_date, str(sex))
    full_name = _text(data, "full_name")
    family, given = split_name(full_name)
    nationality = _text(data, "nationality", required=False, default="VN", limit=2).upper()
    if len(nationality) != 2 or not nationality.isascii() or not nationality.isalpha():
        raise CitizenInputError("nationality", "nationality must be an ISO 3166-1 alpha-2 code")
    return CitizenInput(
        cccd=str(cccd),
        full_name=full_name,
        family_name=_text(data, "family_name", required=False, default=family),
        given_name=_text(data, "given_name", required=False, default=given),
        birth_date=birth_date,
        sex=str(sex),
        nationality=nationality,
        place_of_origin=_text(data, "place_of_origin"),
        place_of_residence=_text(data, "place_of_residence"),
    )


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
