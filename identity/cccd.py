"""Citizen input: the 12-digit CCCD number (Circular 07/2016/TT-BCA, amended by 59/2021) and the registry fields.

A CCCD number is ``PPP`` (province of birth registration) + ``G`` (century and sex) + ``YY`` (birth year) + six
random digits. It reveals province, sex and birth year, so it is never logged and never put in an error message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
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


# Registry text is what a verifier shows a person: nothing in it may be invisible or reorder what is shown.
# Refused everywhere: controls, format characters (zero-width, bidi overrides and isolates, soft hyphen), private
# use, unassigned and surrogate code points, separators other than the ASCII space, and combining marks left over
# after NFC (Vietnamese letters all have precomposed forms; a stray mark stacks or hides).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Mn", "Mc", "Me"})
# Names take Latin letters (Vietnamese names are written in the Latin alphabet; other scripts bring look-alikes and
# invisible "letters" such as U+3164 HANGUL FILLER), ASCII spaces, hyphens and apostrophes.
_NAME_PUNCTUATION = frozenset({" ", "-", "'", "\u2019"})
NAME_FIELDS = ("full_name", "family_name", "given_name")


def _refused_char(value: str, *, name: bool) -> str | None:
    for c in value:
        category = unicodedata.category(c)
        if category in _REFUSED_CATEGORIES or (category == "Zs" and c != " "):
            return c
        if name and c not in _NAME_PUNCTUATION and not (category[0] == "L" and _is_latin(c)):
            return c
    return None


def _is_latin(c: str) -> bool:
    return unicodedata.name(c, "").startswith("LATIN ")


def _checked_text(field: str, value: str) -> str:
    """Refuse invisible, reordering or (in names) non-name characters. The message names the code point, never
    the text around it."""
    is_name = field in NAME_FIELDS
    bad = _refused_char(value, name=is_name)
    if bad is not None:
        allowed = "letters, spaces, hyphens and apostrophes" if is_name else "visible characters"
        raise CitizenInputError(
            field, f"{field} has a character that is not allowed (U+{ord(bad):04X}); {allowed} only"
        )
    if is_name:
        if value and not any(c.isalpha() for c in value):
            raise CitizenInputError(field, f"{field} has no letters")
        value = " ".join(part for part in value.split(" ") if part)  # one space between words
    return value


# Birth dates are local dates in Viet Nam (UTC+7, no daylight saving): "in the future" is judged there.
VIETNAM_TZ = timezone(timedelta(hours=7))
MAX_AGE_YEARS = 130  # older than anyone alive: a typing error, not a citizen


def check_birth_date(birth_date: date, now: datetime) -> date:
    """Refuse a birth date after today (in Viet Nam, as of ``now``) or more than :data:`MAX_AGE_YEARS` ago."""
    today = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(VIETNAM_TZ).date()
    if birth_date > today:
        raise CitizenInputError("birth_date", "birth_date is in the future")
    if today.year - birth_date.year > MAX_AGE_YEARS:
        raise CitizenInputError("birth_date", f"birth_date is more than {MAX_AGE_YEARS} years ago")
    return birth_date


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
    if required and not value:
        raise CitizenInputError(field, f"{field} is required")
    if len(value) > limit:
        raise CitizenInputError(field, f"{field} is longer than {limit} characters")
    return _checked_text(field, value)


def _birth_date(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and len(raw) == 10:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise CitizenInputError("birth_date", "birth_date must be a date YYYY-MM-DD")


def parse_citizen(data: Mapping[str, Any], *, now: datetime) -> CitizenInput:
    """Validate and normalise the registry JSON (``cccd``, ``full_name``, ``birth_date``, ``sex``, ...).

    ``now`` is the clock's value: a birth date after that day, or absurdly long before it, is refused.
    """
    birth_date = check_birth_date(_birth_date(data.get("birth_date")), now)
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
