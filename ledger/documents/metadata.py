"""Administrative documents after Decree 30/2020/NĐ-CP: the number and symbol, the metadata, its canonical digest.

Every text field is NFC-normalised and whitespace-collapsed before anything is hashed or signed, so a title typed
on a Mac (NFD) and the same title typed on Windows (NFC) give the same digest. The digest's byte layout is specified
in docs/qr-payload.md ("Metadata digest").
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from keys.limits import DOCUMENT_FIELD_CHARS, DOCUMENT_NUMBER_INPUT_CHARS
from ledger.documents.errors import (
    DocumentFieldInvalid,
    DocumentFieldMissing,
    DocumentNumberInvalid,
    DocumentSymbolUnknown,
)

__all__ = [
    "DOCUMENT_FIELDS",
    "DOCUMENT_TYPES",
    "NUMBER_NORMALISED",
    "SIGNING_FORMS",
    "Document",
    "DocumentNumber",
    "Notice",
    "metadata_digest",
    "nearest_types",
    "normalize_text",
    "number_notice",
    "parse_document",
    "parse_number",
]

# Type abbreviations: Decree 30/2020/NĐ-CP, Appendix III, part I (the 27 administrative documents, then the three
# kinds of copy), plus the legal normative documents of Law 80/2015/QH13 that agencies also number this way, and CV.
# Keys are the decree's own spelling. The decree gives a công văn no abbreviation (its symbol is the issuing body and
# the drafting unit, "12/UBND-VX", Appendix I); "CV" is not in the appendix but is in wide use in agencies' archives
# ("12/CV-UBND"), so it is accepted as a công văn rather than refused.
DOCUMENT_TYPES: dict[str, str] = {
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
    "NĐ": "Nghị định",
    "TT": "Thông tư",
    "TTLT": "Thông tư liên tịch",
    "NQLT": "Nghị quyết liên tịch",
    "PL": "Pháp lệnh",
    "L": "Lệnh",
    "CV": "Công văn",
}


def _fold(abbr: str) -> str:
    """An abbreviation as typed on a keyboard without Vietnamese letters: upper case, Đ as D."""
    return abbr.upper().replace("\u0110", "D")


# A type as typed, upper-cased, to its canonical spelling. ``QD`` (no Vietnamese keyboard) is read as ``QĐ``, ``QYD``
# as ``QyĐ``, ``ND`` as ``NĐ``, ``CD`` as ``CĐ``; but ``HD`` and ``DA`` are types of their own (Hướng dẫn, Dự án), so
# a folded spelling never shadows a type written exactly so (``HĐ``, Hợp đồng, and ``ĐA``, Đề án, need their Đ).
_TYPES_BY_UPPER = {k.upper(): k for k in DOCUMENT_TYPES}
_TYPES_BY_UPPER.update({_fold(k): k for k in DOCUMENT_TYPES if _fold(k) not in _TYPES_BY_UPPER})
_NEAREST = 5
UNTYPED_KIND = "Công văn"  # a công văn carries no type abbreviation: "12/UBND-VX"

# TM. (on behalf of a collective), KT. (deputy signing for the head), TL. and TUQ. (by delegation), Q. (acting).
SIGNING_FORMS: frozenset[str] = frozenset({"TM.", "KT.", "TL.", "TUQ.", "Q."})

DOCUMENT_FIELDS: tuple[str, ...] = (
    "number",
    "title",
    "issuing_body",
    "place",
    "issued_on",
    "signer_name",
    "signer_title",
    "signing_form",
)
_FIELD_NAMES = frozenset(DOCUMENT_FIELDS)
_MAX_LENGTHS = DOCUMENT_FIELD_CHARS
_EARLIEST = date(1945, 9, 2)
_NUMBER_RE = re.compile(r"(?P<num>[0-9]{1,7})(?:/(?P<year>[0-9]{4}))?/(?P<rest>[^/]+)")
# Numbers and symbols are ASCII letters and digits and the Vietnamese Đ/đ: nothing else, so no look-alike (Cyrillic
# В, Greek Β, an Arabic-Indic digit) can make a second number that reads like an agency's own.
_PART_RE = re.compile(r"[0-9A-Za-z\u0110\u0111]{1,20}")
_FOREIGN_RE = re.compile(r"[^0-9A-Za-z\u0110\u0111/-]")
_MAX_NUMBER_INPUT = DOCUMENT_NUMBER_INPUT_CHARS
_PREFIX_RE = re.compile(r"^s[oố]\s*:?\s*", re.IGNORECASE)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGEST_DOMAIN = b"xacthuc:document-metadata:v1"
_CACHED_CHARS = 2048


def normalize_text(value: str, field: str = "text") -> str:
    """NFC, trimmed, internal whitespace runs collapsed to one space; control characters refused."""
    text = _normalized(value) if len(value) <= _CACHED_CHARS else _normalize(value)
    if text is None:
        raise DocumentFieldInvalid(field, "contains control or unassigned characters")
    return text


def _normalize(value: str) -> str | None:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    # After the whitespace collapse the only separator left is U+0020, so ``isprintable`` (False exactly for the
    # categories C* and Z* other than U+0020) refuses Cc, Cf, Cs, Co and Cn, in C rather than a loop per character.
    # tests/ledger/test_document.py checks this equivalence over every code point.
    return text if text.isprintable() else None


# Memoised: an archive repeats its issuing body, place and signers thousands of times (long values are not kept).
# Without the memos here and in metadata_digest, parsing and digesting a document is about 20 % slower and bulk
# issuance about 4 % (docs/benchmarks.md).
_normalized = functools.lru_cache(maxsize=4096)(_normalize)


@dataclass(frozen=True)
class DocumentNumber:
    """A parsed number and symbol (số, ký hiệu): ``2392/QĐ-UBND``, ``15/2024/NĐ-CP``, ``12/UBND-VX``."""

    serial: str  # digits as written; Decree 30 pads numbers below 10 with a 0 ("01")
    year: int | None
    type_abbr: str | None  # None: a công văn (no type abbreviation)
    body_abbr: str  # issuing body, possibly with the drafting unit: "UBND-VX"

    def __str__(self) -> str:
        year = f"/{self.year}" if self.year is not None else ""
        kind = f"{self.type_abbr}-" if self.type_abbr else ""
        return f"{self.serial}{year}/{kind}{self.body_abbr}"

    @property
    def kind_name(self) -> str:
        """The document kind in Vietnamese (``Quyết định``, ``Công văn``)."""
        return DOCUMENT_TYPES[self.type_abbr] if self.type_abbr else UNTYPED_KIND


def parse_number(value: str) -> DocumentNumber:
    """Parse and validate a number and symbol; accepts a leading ``Số:`` and stray spaces.

    Only ASCII letters and digits, Đ/đ, ``/`` and ``-`` are accepted, after NFKC folding (fullwidth and ligature
    forms become ASCII); any other character (a Cyrillic or Greek look-alike, another script's digit) is refused.
    """
    if not isinstance(value, str):
        raise DocumentNumberInvalid("must be a string")
    if len(value) > _MAX_NUMBER_INPUT:
        raise DocumentNumberInvalid("is too long")
    # NFKC (whose output is NFC) folds compatibility forms to the characters they stand for: fullwidth ＵＢＮＤ and
    # ２３９２, the ﬃ ligature. What it leaves outside ASCII letters, digits and Đ is refused below.
    text = unicodedata.normalize("NFKC", value).strip()
    text = _PREFIX_RE.sub("", text)
    # U+00D0 (Icelandic eth) looks exactly like Đ and turns up in typed data; U+0110 is the Vietnamese letter.
    text = "".join(text.split()).replace("\u00d0", "\u0110").replace("\u00f0", "\u0111")
    if len(text) > 80:
        raise DocumentNumberInvalid("is too long")
    foreign = _FOREIGN_RE.search(text)
    if foreign is not None:
        char = foreign[0]
        raise DocumentNumberInvalid(
            f"contains U+{ord(char):04X} ({unicodedata.name(char, 'unnamed character')}): numbers and symbols use"
            " only ASCII letters and digits, Đ, '/' and '-'"
        )
    m = _NUMBER_RE.fullmatch(text)
    if m is None:
        raise DocumentNumberInvalid("expected number[/year]/[TYPE-]BODY, e.g. 2392/QĐ-UBND")
    serial = m["num"]
    if int(serial) == 0:
        raise DocumentNumberInvalid("the number must be 1 or more")
    year = int(m["year"]) if m["year"] else None
    if year is not None and not (_EARLIEST.year <= year <= 2100):
        raise DocumentNumberInvalid("the year is out of range")
    type_abbr, body = _symbol(m["rest"], year is not None)
    return DocumentNumber(serial=serial, year=year, type_abbr=type_abbr, body_abbr=body)


@functools.lru_cache(maxsize=1024)
def _symbol(rest: str, with_year: bool) -> tuple[str | None, str]:
    """The type abbreviation (or None) and the issuing body of a symbol ``[TYPE-]BODY[-UNIT...]``.

    Without a known type the symbol is a công văn's, ``BODY-UNIT`` (Decree 30, Appendix I): so a symbol of one part
    (``2392/XYZ``), or a number with a year (only legal normative documents carry one) whose first part is no type,
    names a type the decree does not have and is refused with the nearest ones.
    Cached: an agency's archive numbers thousands of documents with a handful of symbols (``QĐ-UBND``).
    """
    parts = rest.split("-")
    if not all(_PART_RE.fullmatch(p) for p in parts):
        raise DocumentNumberInvalid("the symbol must be letters and digits separated by '-'")
    type_abbr = _TYPES_BY_UPPER.get(parts[0].upper())
    if type_abbr is not None:
        parts = parts[1:]
        if not parts:
            raise DocumentNumberInvalid("the issuing body's abbreviation is missing")
    elif with_year or len(parts) == 1:
        raise DocumentSymbolUnknown(parts[0], [f"{t} ({DOCUMENT_TYPES[t]})" for t in nearest_types(parts[0])])
    return type_abbr, "-".join(p.upper() for p in parts)


def nearest_types(abbr: str, n: int = _NEAREST) -> list[str]:
    """The ``n`` document types whose abbreviations are closest to ``abbr`` (edit distance, Đ read as D, any case);
    ties in the decree's order."""
    typed = _fold(abbr)
    ranked = sorted(enumerate(DOCUMENT_TYPES), key=lambda item: (_distance(typed, _fold(item[1])), item[0]))
    return [abbr for _, abbr in ranked[:n]]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), for a handful of short abbreviations."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@dataclass(frozen=True)
class Notice:
    """What an answer tells besides its result: a stable code, the field, the text in Vietnamese and English."""

    code: str
    field: str
    vi: str
    en: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": {"vi": self.vi, "en": self.en}}


NUMBER_NORMALISED = "DOC_NUMBER_NORMALISED"


def number_notice(raw: Any, number: DocumentNumber) -> Notice | None:
    """A ``DOC_NUMBER_NORMALISED`` notice when the stored number differs from the one given beyond spaces and a
    leading ``Số:`` (``2392/QD-UBND`` stored as ``2392/QĐ-UBND``, ``7/qđ-ubnd`` as ``7/QĐ-UBND``), else None."""
    canonical = str(number)
    if raw == canonical or not isinstance(raw, str):
        return None
    written = "".join(_PREFIX_RE.sub("", unicodedata.normalize("NFC", raw).strip()).split())
    if written == canonical:
        return None
    vi = f"Số, ký hiệu được lưu theo dạng chuẩn {canonical} (đã nhập: {written})."
    en = f"The number is stored in its canonical form {canonical} (given: {written})."
    typed = written.rsplit("/", 1)[-1].split("-", 1)[0]
    if number.type_abbr is not None and typed != number.type_abbr:
        vi += f" {typed} được hiểu là {number.type_abbr} ({number.kind_name})."
        en += f" {typed} is read as {number.type_abbr} ({number.kind_name})."
    return Notice(NUMBER_NORMALISED, "number", vi, en)


@dataclass(frozen=True)
class Document:
    """A document's Decree 30 metadata, validated and normalised. Build it with :func:`parse_document`."""

    number: DocumentNumber
    title: str  # trích yếu
    issuing_body: str
    place: str
    issued_on: date
    signer_name: str
    signer_title: str
    signing_form: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The metadata with the issue's field names (``issued_on`` as YYYY-MM-DD)."""
        return {
            "number": str(self.number),
            "title": self.title,
            "issuing_body": self.issuing_body,
            "place": self.place,
            "issued_on": self.issued_on.isoformat(),
            "signer_name": self.signer_name,
            "signer_title": self.signer_title,
            "signing_form": self.signing_form,
        }

    def digest(self) -> bytes:
        """The canonical metadata digest (32 bytes) that the receipt signs."""
        return metadata_digest(self)


def _text(fields: Mapping[str, Any], name: str) -> str:
    raw = fields.get(name)
    if raw is None:
        raise DocumentFieldMissing(name)
    if not isinstance(raw, str):
        raise DocumentFieldInvalid(name, "must be a string")
    text = normalize_text(raw, name)
    if not text:
        raise DocumentFieldMissing(name)
    if len(text) > _MAX_LENGTHS[name]:
        raise DocumentFieldInvalid(name, f"is longer than {_MAX_LENGTHS[name]} characters")
    return text


def _issued_on(raw: Any, today: date | None) -> date:
    if raw is None or raw == "":
        raise DocumentFieldMissing("issued_on")
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        day = raw
    elif isinstance(raw, str) and _DATE_RE.fullmatch(raw.strip()):
        try:
            day = date.fromisoformat(raw.strip())
        except ValueError:
            raise DocumentFieldInvalid("issued_on", "is not a valid date") from None
    else:
        raise DocumentFieldInvalid("issued_on", "must be a date YYYY-MM-DD")
    if day < _EARLIEST:
        raise DocumentFieldInvalid("issued_on", "is before 1945-09-02")
    if today is not None and day > today:
        raise DocumentFieldInvalid("issued_on", "is in the future")
    return day


def _signing_form(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise DocumentFieldInvalid("signing_form", "must be a string")
    text = raw.strip().upper()
    if not text:
        return None
    if not text.endswith("."):
        text += "."
    if text not in SIGNING_FORMS:
        raise DocumentFieldInvalid("signing_form", f"must be one of {', '.join(sorted(SIGNING_FORMS))}")
    return text


def parse_document(fields: Mapping[str, Any], *, today: date | None = None) -> Document:
    """Validate metadata given with the issue's field names; raise a 422 error naming the first bad field.

    ``today`` (the caller's clock) makes a future ``issued_on`` an error. Unknown field names are refused.
    """
    if not _FIELD_NAMES.issuperset(fields):
        raise DocumentFieldInvalid(sorted(set(fields) - _FIELD_NAMES)[0], "is not a document field")
    raw_number = fields.get("number")
    if raw_number is None or (isinstance(raw_number, str) and not raw_number.strip()):
        raise DocumentFieldMissing("number")
    number = parse_number(raw_number)
    issued_on = _issued_on(fields.get("issued_on"), today)
    if number.year is not None and number.year != issued_on.year:
        raise DocumentNumberInvalid(f"the year {number.year} differs from issued_on {issued_on.isoformat()}")
    return Document(
        number=number,
        title=_text(fields, "title"),
        issuing_body=_text(fields, "issuing_body"),
        place=_text(fields, "place"),
        issued_on=issued_on,
        signer_name=_text(fields, "signer_name"),
        signer_title=_text(fields, "signer_title"),
        signing_form=_signing_form(fields.get("signing_form")),
    )


def metadata_digest(document: Document | Mapping[str, Any]) -> bytes:
    """SHA-256 over the domain tag and each field's UTF-8 value, length-prefixed (u32 big-endian), in fixed order.

    ``document`` is a :class:`Document` or its :meth:`Document.to_dict` (a caller that has the dict already saves
    building it again). An absent ``signing_form`` is the empty string; every other field is non-empty, so the
    encoding is injective.
    """
    values = document.to_dict() if isinstance(document, Document) else document
    parts = [_DIGEST_DOMAIN]
    for name in DOCUMENT_FIELDS:
        value = values[name] or ""
        parts.append(_field_bytes_memo(value) if len(value) <= _CACHED_CHARS else _field_bytes(value))
    return hashlib.sha256(b"".join(parts)).digest()


def _field_bytes(value: str) -> bytes:
    """One field's share of the digest: its NFC UTF-8 bytes after their length (u32 big-endian)."""
    data = unicodedata.normalize("NFC", value).encode("utf-8")
    return len(data).to_bytes(4, "big") + data


_field_bytes_memo = functools.lru_cache(maxsize=4096)(_field_bytes)  # as _normalized
