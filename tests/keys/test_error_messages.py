"""The error catalogue (keys/error_messages.py): every pinned code in Vietnamese and English, every template filled in
with the fields its exception really carries, the issue form's reasons said in Vietnamese, the language chosen from
``Accept-Language`` and the locale, and the CLI's error line."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from keys import error_messages as em
from keys.errors import Forbidden, InvalidInput, XacthucError
from ledger.documents.metadata import parse_document
from tests.test_error_codes import PINNED, _all_error_classes

ROOT = Path(__file__).resolve().parents[2]
# codes the HTTP layer sends for statuses no exception class stands for (xacthuc/errors_http.py)
HTTP_ONLY = {"BAD_REQUEST", "METHOD_NOT_ALLOWED", "RATE_LIMITED", "HTTP_ERROR", "INTERNAL_ERROR"}
TX = bytes.fromhex("ab" * 32)
ROOT_HASH = bytes.fromhex("cd" * 32)

# An instance of each class whose constructor needs arguments, with every optional field set: the templates may name
# exactly what these carry. Classes missing here are built as ``cls("a specific English message")``.
FULL: dict[str, Callable[[type[Any]], XacthucError]] = {
    "ALREADY_REVOKED": lambda c: c("ubnd-hcm", ROOT_HASH, TX, tx_hash=TX),
    "ANCHOR_ACCOUNT_UNFUNDED": lambda c: c("0x" + "12" * 20, 5, 1_000_000),
    "ANCHOR_EMPTY_BATCH": lambda c: c(tx_hash=TX),
    "ANCHOR_ZERO_ROOT": lambda c: c(tx_hash=TX),
    "ANVIL_PORT_IN_USE": lambda c: c("port 8545 taken", port=8545),
    "BAD_SIGNATURE": lambda c: c("ubnd-hcm", tx_hash=TX),
    "BLOCK_NOT_FOUND": lambda c: c(42),
    "CCCD_INVALID": lambda c: c("cccd"),
    "CCCD_MISMATCH": lambda c: c("cccd"),
    "CITIZEN_INPUT_INVALID": lambda c: c("birth_date"),
    "CITY_NOT_FOUND": lambda c: c("no city", data_dir="/srv/xacthuc"),
    "CLAIM_NOT_AVAILABLE": lambda c: c("birth_date"),
    "CSRF_INVALID": lambda c: c("no token", role="documents:issue"),
    "DISCLOSURE_INVALID": lambda c: c("bad disclosure", claim="birth_date"),
    "DOC_FIELD_INVALID": lambda c: c("title", "is weird"),
    "DOC_FIELD_MISSING": lambda c: c("title"),
    "DOC_NUMBER_DUPLICATE": lambda c: c("12/QĐ-UBND", 2026, 0, 3),
    "DOC_NUMBER_INVALID": lambda c: c("odd"),
    "DOC_NUMBER_TAKEN": lambda c: c("12/QĐ-UBND", 2026, "01JABCDEFGHJKMNPQRSTVWXYZ0"),
    "DOC_SYMBOL_UNKNOWN": lambda c: c("XYZ", ["QĐ (Quyết định)", "QC (Quy chế)"]),
    "FILE_NOT_FOUND": lambda c: c("/tmp/qd.pdf", field="file"),
    "FORBIDDEN": lambda c: c("no role", role="documents:issue"),
    "IDEMPOTENCY_KEY_INVALID": lambda c: c(),
    "IDEMPOTENCY_KEY_REUSED": lambda c: c("3f2c-key"),
    "INVALID_PROOF": lambda c: c(ROOT_HASH, TX, tx_hash=TX),
    "INVALID_REVOCATION_REASON": lambda c: c(7, tx_hash=TX),
    "JSON_TOO_DEEP": lambda c: c("too deep", max_depth=64),
    "KEYSTORE_CORRUPT": lambda c: c("bad", path="/srv/keystore.json"),
    "KEY_COMPROMISED": lambda c: c("bad", kid="k1"),
    "KEY_NOT_FOUND": lambda c: c("no key", kid="k1"),
    "KEY_NOT_VALID_AT": lambda c: c("expired", kid="k1"),
    "KEY_UNKNOWN": lambda c: c("unknown", issuer_id="ubnd-hcm", kid="k1"),
    "MERKLE_PROOF_TOO_LONG": lambda c: c(70, 64),
    "NOT_ANCHORER": lambda c: c("ubnd-hcm", "0x" + "34" * 20, tx_hash=TX),
    "OID4VCI_ERROR": lambda c: c("invalid_grant", "the offer has expired or was already used"),
    "RECEIPT_FIELD_INVALID": lambda c: c("kid", "must be 8 or 32 bytes"),
    "REGISTRY_MISSING": lambda c: c("gone", address="0x" + "56" * 20, chain_id=31337),
    "REGISTRY_OUTDATED": lambda c: c("old", address="0x" + "56" * 20, chain_id=31337),
    "REGISTRY_REVERTED": lambda c: c("reverted", tx_hash=TX),
    "REGISTRY_REVERTED_UNKNOWN": lambda c: c(b"\x01\x02", tx_hash=TX),
    "ROOT_ALREADY_ANCHORED": lambda c: c("ubnd-hcm", ROOT_HASH, tx_hash=TX),
    "ROOT_NOT_ANCHORED": lambda c: c("ubnd-hcm", ROOT_HASH, tx_hash=TX),
    "SIGNIN_THROTTLED": lambda c: c("wait", retry_after=30, locked=True),
    "STAFF_INPUT_INVALID": lambda c: c("bad", field="username"),
    "TX_CODE_WRONG": lambda c: c("wrong transaction code, 3 tries left", tries_left=3),
    "TX_REJECTED": lambda c: c(TX, "nonce too low"),
    "TX_TIMEOUT": lambda c: c(TX, 120.0),
}


def _classes() -> dict[str, type[XacthucError]]:
    return {cls.code: cls for cls in _all_error_classes()}


def _full(cls: type[XacthucError]) -> XacthucError:
    make = FULL.get(cls.code)
    return make(cls) if make is not None else cls("a specific English message")


def _minimal(cls: type[XacthucError]) -> XacthucError | None:
    """The class built with only what its constructor requires (None when that needs arguments)."""
    try:
        return cls()
    except TypeError:
        return None


def _names(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture(scope="module")
def classes() -> dict[str, type[XacthucError]]:
    return _classes()


# ------------------------------------------------------------------------------------------------- coverage
def test_every_pinned_code_has_a_message_in_both_languages() -> None:
    pinned = set(json.loads(PINNED.read_text(encoding="utf-8")))
    assert len(pinned) >= 138
    for lang in em.LANGS:
        assert sorted(pinned - em.codes(lang)) == [], f"codes without a {lang} message"
        assert sorted(HTTP_ONLY - em.codes(lang)) == [], f"HTTP codes without a {lang} message"


def test_every_error_class_has_a_message_in_both_languages(classes: dict[str, type[XacthucError]]) -> None:
    for lang in em.LANGS:
        assert sorted(set(classes) - em.codes(lang)) == [], f"add these to keys/error_messages.{lang}.json"


def test_both_languages_have_the_same_codes_fields_and_placeholders() -> None:
    assert em.codes("vi") == em.codes("en")
    assert set(em.field_labels("vi")) == set(em.field_labels("en"))
    for code in em.codes("vi"):
        assert em.placeholders(code, "vi") == em.placeholders(code, "en"), code


def test_the_catalogue_only_knows_codes_that_exist(classes: dict[str, type[XacthucError]]) -> None:
    assert sorted(em.codes("vi") - set(classes) - HTTP_ONLY) == []


# -------------------------------------------------------------------------- templates against real exceptions
def test_every_template_names_only_fields_its_exception_carries(classes: dict[str, type[XacthucError]]) -> None:
    for code, cls in classes.items():
        exc = _full(cls)
        for lang in em.LANGS:
            carried = set(em.template_values(exc, lang))
            missing = em.placeholders(code, lang) - carried
            assert missing == set(), f"{code} ({lang}) names {missing}; {cls.__qualname__} carries {carried}"


def test_every_template_renders_with_the_fields_its_exception_carries(
    classes: dict[str, type[XacthucError]],
) -> None:
    for code, cls in classes.items():
        exc = _full(cls)
        text = em.message(exc, "vi")
        assert text and "{" not in text and "}" not in text, (code, text)
        assert f"({code})" not in text, f"{code} fell back to the unknown-code sentence"
        for name in ("number", "document_id", "kid", "path", "port", "role", "agency", "claim", "typed", "key"):
            value = getattr(exc, name, None)
            if isinstance(value, (str, int)) and name in em.placeholders(code, "vi"):
                assert str(value) in text, f"{code}: {name}={value!r} is not in {text!r}"
        assert em.message(exc, "en") == exc.message  # English is what clients have always read
        for lang in em.LANGS:  # the bare code, as a page or the HTTP layer asks for it
            assert "{" not in em.code_message(code, lang, **em.template_values(exc, lang))


def test_a_template_without_its_optional_fields_still_says_something(
    classes: dict[str, type[XacthucError]],
) -> None:
    for code, cls in classes.items():
        exc = _minimal(cls)
        if exc is None:
            continue
        text = em.message(exc, "vi")
        assert text and "{" not in text and f"({code})" not in text, (code, text)


def test_the_vietnamese_names_the_field_in_vietnamese() -> None:
    exc = Forbidden("no", role="documents:revoke")
    assert em.message(exc, "vi") == "Tài khoản không có quyền thực hiện thao tác này (cần quyền documents:revoke)."
    body = em.error_dict(_full(_classes()["DOC_FIELD_MISSING"]), "vi")
    assert body == {
        "code": "DOC_FIELD_MISSING",
        "field": "title",
        "message": "Trích yếu là thông tin bắt buộc, chưa được nhập.",
        "lang": "vi",
    }


# ----------------------------------------------------------------------------- the issue form's reasons
SAMPLE = {
    "number": "12/QĐ-UBND",
    "title": "Về việc phê duyệt kế hoạch",
    "issuing_body": "Ủy ban nhân dân Phường Bến Thành",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2025-11-20",
    "signer_name": "Nguyễn Văn An",
    "signer_title": "Chủ tịch",
}

# Each reason ledger/documents/metadata.py gives, and what a Vietnamese clerk reads for it.
REASONS = [
    ({"title": ""}, "Trích yếu là thông tin bắt buộc, chưa được nhập."),
    ({"title": 5}, "Trích yếu phải là chuỗi ký tự."),
    ({"title": "x" * 3000}, "Trích yếu không được dài quá"),
    ({"title": "Về việc\x07"}, "Trích yếu có ký tự điều khiển"),
    ({"issued_on": "2025-02-30"}, "Ngày ban hành không phải là một ngày có thật."),
    ({"issued_on": "20/11/2025"}, "Ngày ban hành phải ghi theo dạng năm-tháng-ngày"),
    ({"issued_on": "1945-01-01"}, "Ngày ban hành không được trước ngày 02/9/1945."),
    ({"issued_on": "2027-01-01"}, "Ngày ban hành không được sau ngày hôm nay."),
    ({"signing_form": "XY"}, "Thẩm quyền ký phải là một trong các hình thức: KT., Q., TL., TM., TUQ."),
    ({"colour": "red"}, "“colour” không phải là thông tin của văn bản."),
    ({"number": ""}, "Số, ký hiệu là thông tin bắt buộc, chưa được nhập."),
    ({"number": "1" * 100}, "Số, ký hiệu quá dài."),
    ({"number": "12/QĐ-UBNД"}, "Số, ký hiệu có ký tự không được dùng (U+0414)"),
    ({"number": "QĐ-UBND"}, "Số, ký hiệu chưa đúng thể thức"),
    ({"number": "0/QĐ-UBND"}, "Số của văn bản phải từ 1 trở lên."),
    ({"number": "12/1800/NĐ-CP"}, "Năm ghi trong số, ký hiệu không hợp lệ."),
    ({"number": "12/QĐ--UBND"}, "Ký hiệu văn bản gồm chữ và số"),
    ({"number": "12/QĐ"}, "còn thiếu chữ viết tắt tên cơ quan ban hành"),
    ({"number": "12/2024/NQ-HĐND"}, "Năm 2024 ghi trong số, ký hiệu không khớp với năm của ngày ban hành"),
    ({"number": "12/XYZ"}, "“XYZ” không phải là tên loại văn bản theo Nghị định 30/2020/NĐ-CP"),
]


@pytest.mark.parametrize(("change", "expected"), REASONS, ids=[str(c) for c, _ in REASONS])
def test_the_issue_forms_reasons_are_said_in_vietnamese(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_document({**SAMPLE, **change}, today=date(2026, 6, 1))
    text = em.message(caught.value, "vi")
    assert text.startswith(expected) or expected in text, (caught.value.message, text)
    assert not re.search(r"\b(is|must|the|expected)\b", text), f"English left in {text!r}"


def test_every_translated_reason_is_one_the_code_gives() -> None:
    """A reason reworded in English would silently fall back to the general sentence: each entry of ``details``
    must still be in the source that raises it."""
    sources = "".join(
        (ROOT / p).read_text(encoding="utf-8") for p in ("ledger/documents/metadata.py", "ledger/api/routes.py")
    )
    sources = re.sub(r"\"\s*\n\s*f?\"", "", sources)  # implicit concatenation of a message split over lines
    catalogue = json.loads((ROOT / "keys" / "error_messages.vi.json").read_text(encoding="utf-8"))
    for english, _ in catalogue["details"]:
        literal = max(re.split(r"\{\w+\}", english), key=len)
        assert literal in sources, f"no error says {english!r} any more: update keys/error_messages.vi.json"


def test_a_batch_item_is_counted_from_one() -> None:
    exc = InvalidInput("documents[2].file_base64: is not base64")
    assert em.message(exc, "vi") == "Văn bản thứ 3 trong lô: file_base64 không phải dữ liệu base64."
    taken = _classes()["DOC_NUMBER_TAKEN"]("12/QĐ-UBND", 2026, "01J", item=4)  # type: ignore[call-arg]
    assert em.message(taken, "vi").startswith("Văn bản thứ 5 trong lô: Số 12/QĐ-UBND năm 2026 đã được")


# ------------------------------------------------------------------------------------------- choosing a language
@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("vi", "vi"),
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("fr-FR, vi;q=0.5", "vi"),
        ("fr-FR", "en"),
        ("*", "en"),
        ("vi;q=0, en", "en"),
        ("en;q=0.2, vi;q=0.7", "vi"),
        ("VI", "vi"),
        ("vi;q=abc", "en"),
    ],
)
def test_accept_language_chooses_vietnamese_only_when_preferred(header: str | None, lang: str) -> None:
    assert em.lang_from_accept_language(header) == lang


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({}, "en"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "vi_VN.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),
        ({"LANG": "vi_VN.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "C", "LC_ALL": ""}, "en"),
    ],
)
def test_the_locale_chooses_the_cli_language(env: dict[str, str], lang: str) -> None:
    assert em.lang_from_locale(env) == lang


# ------------------------------------------------------------------------------------------------------- the CLI
def test_cli_error_line_is_vietnamese_with_its_code_under_a_vietnamese_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xacthuc.cli._common import error_exit

    exc = _classes()["DOC_NUMBER_TAKEN"]("12/QĐ-UBND", 2026, "01JDOC")  # type: ignore[call-arg]
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert error_exit(exc).exit_code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("lỗi DOC_NUMBER_TAKEN: Số 12/QĐ-UBND năm 2026 đã được cơ quan dùng cho văn bản có mã 01JDOC")

    monkeypatch.setenv("LANG", "en_US.UTF-8")
    error_exit(exc)
    assert capsys.readouterr().err.strip() == f"error DOC_NUMBER_TAKEN: {exc.message}"

    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")  # JSON is for scripts: English whatever the locale
    error_exit(exc, as_json=True)
    assert json.loads(capsys.readouterr().out)["error"]["message"] == exc.message


# ------------------------------------------------------------------------------------------- the portal's labels
def test_the_portals_field_labels_come_from_this_catalogue() -> None:
    from xacthuc.web.i18n import catalogue

    for lang in em.LANGS:
        for name, label in em.field_labels(lang).items():
            assert catalogue(lang)[f"agency.field.{name}"] == label
        own = json.loads((ROOT / "xacthuc/web/messages" / f"agency.{lang}.json").read_text(encoding="utf-8"))
        assert [k for k in own if k.startswith("agency.field.")] == [], "one source: keys/error_messages.*.json"
    assert em.field_label("number", "vi") == "Số, ký hiệu"
