"""The one exception handler (xacthuc/errors_http.py) answers in the language the request asks for: ``Accept-Language``
preferring ``vi`` gets the catalogue's Vietnamese (fields filled in, the field named in Vietnamese), anything else
gets English, the exception's own message as before, so machine clients see no change; ``lang`` says which."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from keys.api.schema import ErrorResponse
from ledger.documents.metadata import parse_document
from ledger.documents.numbering import DocumentNumberTaken
from verifier.api import build_router
from verifier.dispatch import VerifyRequest
from verifier.errors import PayloadUnrecognized
from verifier.report import Report
from xacthuc.errors_http import install_error_handlers

VI = {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
TAKEN = DocumentNumberTaken("12/QĐ-UBND", 2026, "01JDOCUMENT0000000000000000")


@pytest.fixture(scope="module")
def client() -> TestClient:
    def verify(_request: VerifyRequest) -> Report:
        raise PayloadUnrecognized("the text is neither a verification link nor a known payload")

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_router(verify=verify, file_limit=1024))

    @app.get("/taken")
    def taken() -> None:
        raise TAKEN

    @app.get("/field")
    def field() -> None:
        parse_document({"number": "12/QĐ-UBND", "issued_on": "2026-01-02", "title": ""})

    @app.get("/typed")
    def typed(n: int) -> int:
        return n

    @app.get("/limited")
    def limited() -> None:
        raise HTTPException(429, "slow down", headers={"Retry-After": "7"})

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


def _error(r: Any) -> dict[str, str]:
    ErrorResponse.model_validate(r.json())  # the documented shape, lang included
    body: dict[str, str] = r.json()["error"]
    return body


def test_a_typed_error_is_vietnamese_with_its_fields_when_vi_is_asked(client: TestClient) -> None:
    r = client.get("/taken", headers=VI)
    assert r.status_code == 409
    assert _error(r) == {
        "code": "DOC_NUMBER_TAKEN",
        "field": "number",
        "lang": "vi",
        "message": "Số 12/QĐ-UBND năm 2026 đã được cơ quan dùng cho văn bản có mã 01JDOCUMENT0000000000000000"
        " (với tệp khác). Số văn bản không được trùng trong cùng một năm: hãy lấy số kế tiếp, hoặc thu hồi văn bản"
        " đó và ban hành văn bản thay thế.",
    }


def test_a_typed_error_is_todays_english_otherwise(client: TestClient) -> None:
    for headers in (EN, {}, {"Accept-Language": "fr-FR"}, {"Accept-Language": "*"}):
        r = client.get("/taken", headers=headers)
        assert _error(r) == {"code": "DOC_NUMBER_TAKEN", "field": "number", "lang": "en", "message": TAKEN.message}


def test_a_field_error_names_the_field_in_vietnamese(client: TestClient) -> None:
    vi, en = _error(client.get("/field", headers=VI)), _error(client.get("/field", headers=EN))
    assert vi["code"] == en["code"] == "DOC_FIELD_MISSING" and vi["field"] == en["field"] == "title"
    assert vi["message"] == "Trích yếu là thông tin bắt buộc, chưa được nhập."
    assert en["message"] == "title: is required"


def test_a_real_route_answers_in_both_languages(client: TestClient) -> None:
    vi = _error(client.post("/v1/verify", json={"payload": "hello"}, headers=VI))
    en = _error(client.post("/v1/verify", json={"payload": "hello"}, headers=EN))
    assert vi["code"] == en["code"] == "PAYLOAD_UNRECOGNIZED"
    assert vi["message"] == "Nội dung này không phải đường dẫn xác minh hay mã QR của xacthuc."
    assert en["message"] == "the text is neither a verification link nor a known payload"


def test_request_validation_names_the_parameter(client: TestClient) -> None:
    vi, en = _error(client.get("/typed?n=x", headers=VI)), _error(client.get("/typed?n=x", headers=EN))
    assert vi["code"] == en["code"] == "INVALID_INPUT"
    assert vi["message"] == "Dữ liệu gửi lên không hợp lệ (chi tiết: n)." and vi["lang"] == "vi"
    assert en["message"].startswith("n: ") and en["lang"] == "en"


def test_http_errors_and_the_unexpected_in_both_languages(client: TestClient) -> None:
    r = client.get("/limited", headers=VI)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert _error(r)["message"] == "Có quá nhiều yêu cầu trong thời gian ngắn. Vui lòng thử lại sau 7 giây."
    assert _error(client.get("/limited", headers=EN))["message"] == "slow down"
    missing = client.get("/nowhere", headers=VI)
    assert missing.status_code == 404 and _error(missing)["message"] == "Không tìm thấy đối tượng được yêu cầu."
    boom = client.get("/boom", headers=VI)
    assert boom.status_code == 500 and _error(boom)["code"] == "INTERNAL_ERROR"
    assert "a bug" not in boom.text and _error(boom)["message"].startswith("Hệ thống gặp lỗi nội bộ")
    assert _error(client.get("/boom"))["message"] == "internal error"
