"""Issue 8, item 12 (names) and item 13 (README): invisible or foreign characters in names, impossible birth dates,
and the README's registration example, all through the one validator (``identity.cccd.parse_citizen``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity.api import build_router
from identity.cccd import CitizenInput, parse_citizen
from identity.errors import CitizenInputError
from identity.service import register_citizen
from keys.agencies import Principal
from keys.errors import XacthucError
from tests.identity.conftest import CITIZEN, ISSUER, NOW, TestSigner

README = Path(__file__).resolve().parents[2] / "README.md"


def _refused(change: dict[str, Any], now: datetime = NOW) -> CitizenInputError:
    with pytest.raises(CitizenInputError) as info:
        parse_citizen({**CITIZEN, **change}, now=now)
    err = info.value
    assert err.http_status == 422 and err.code == "CITIZEN_INPUT_INVALID"
    assert err.to_dict()["field"] == err.field and err.message.startswith(err.field)
    return err


INVISIBLE = [
    ("zero-width-space", "\u200b"),
    ("zero-width-joiner", "\u200d"),
    ("right-to-left-override", "\u202e"),
    ("left-to-right-isolate", "\u2066"),
    ("byte-order-mark", "\ufeff"),
    ("soft-hyphen", "\u00ad"),
    ("line-separator", "\u2028"),
    ("no-break-space", "\u00a0"),
    ("combining-grapheme-joiner", "\u034f"),
    ("variation-selector", "\ufe0f"),
    ("private-use", "\ue000"),
    ("control", "\x1b"),
]


@pytest.mark.parametrize("char", [c for _, c in INVISIBLE], ids=[i for i, _ in INVISIBLE])
def test_full_name_with_zero_width_or_format_characters_is_refused(char: str) -> None:
    err = _refused({"full_name": f"Nguyễn Thị{char} Minh Khai"})
    assert err.field == "full_name"
    assert f"U+{ord(char):04X}" in err.message
    assert "Khai" not in err.message  # the code point, never the name


@pytest.mark.parametrize("field", ["family_name", "given_name", "place_of_origin", "place_of_residence"])
def test_every_citizen_text_field_refuses_zero_width_characters(field: str) -> None:
    assert _refused({field: "Minh\u200bKhai"}).field == field


@pytest.mark.parametrize(
    "name",
    ["Nguyễn Thị Minh Kh\u0430i", "Nguyễn Thị Minh Khai\u3164", "Nguyễn Thị Minh Khai 2", "Nguyễn Thị. Khai", "- '"],
    ids=["cyrillic-a", "hangul-filler", "digit", "full-stop", "no-letters"],
)
def test_names_take_latin_letters_spaces_hyphens_and_apostrophes_only(name: str) -> None:
    assert _refused({"full_name": name}).field == "full_name"


@pytest.mark.parametrize(
    "name",
    ["Nguyễn Thị Minh Khai", "Đặng Ngọc Ưng", "H'Hen Niê", "H\u2019Hen Niê", "Nguyễn-Trần Ánh Dương", "Y Moan Ênuôl"],
)
def test_vietnamese_names_are_accepted(name: str) -> None:
    assert parse_citizen({**CITIZEN, "full_name": name}, now=NOW).full_name == name


def test_places_keep_digits_and_punctuation() -> None:
    place = "Số 12/3, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh (TP.HCM)"
    assert parse_citizen({**CITIZEN, "place_of_residence": place}, now=NOW).place_of_residence == place


def test_runs_of_spaces_in_a_name_become_one() -> None:
    c = parse_citizen({**CITIZEN, "full_name": "Nguyễn  Thị   Minh Khai"}, now=NOW)
    assert (c.full_name, c.family_name, c.given_name) == ("Nguyễn Thị Minh Khai", "Nguyễn", "Thị Minh Khai")


# --- birth dates ----------------------------------------------------------------------------------------------------


def test_birth_date_in_2099_is_refused() -> None:
    # 079399...: a woman born in 20(99): the number agrees, the date is still impossible.
    err = _refused({"cccd": "079399001234", "birth_date": "2099-01-01"})
    assert err.field == "birth_date" and "future" in err.message


def test_birth_date_tomorrow_in_viet_nam_is_refused_and_today_accepted() -> None:
    # 18:00 UTC on 1 March is 01:00 on 2 March in Viet Nam: a child born there that day may be registered.
    now = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    born = {"cccd": "079326001234", "sex": "female"}
    assert parse_citizen({**CITIZEN, **born, "birth_date": "2026-03-02"}, now=now).birth_date.isoformat() == (
        "2026-03-02"
    )
    assert _refused({**born, "birth_date": "2026-03-03"}, now=now).field == "birth_date"


def test_absurdly_old_birth_date_is_refused() -> None:
    # 079950...: a woman born in 18(50), as the century digit 9 allows; 176 years before NOW.
    err = _refused({"cccd": "079950001234", "birth_date": "1850-06-01"})
    assert err.field == "birth_date" and "years ago" in err.message
    assert parse_citizen({**CITIZEN, "cccd": "079101001234", "birth_date": "1901-06-01"}, now=NOW)


def test_register_checks_the_birth_date_against_its_own_clock(session: Session) -> None:
    parsed = parse_citizen(CITIZEN, now=NOW)
    assert isinstance(parsed, CitizenInput)
    with pytest.raises(CitizenInputError) as info:  # parsed earlier, registered with a clock set before the birth
        register_citizen(session, parsed, datetime(2003, 5, 16, tzinfo=UTC), agency_id=ISSUER)
    assert info.value.field == "birth_date"


@pytest.fixture
def client(engine: Engine) -> TestClient:
    def db() -> Iterator[Session]:
        with Session(engine) as s:
            yield s

    app = FastAPI()

    @app.exception_handler(XacthucError)
    def handle(_: Request, exc: XacthucError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    app.include_router(
        build_router(
            session=db,
            require_issue=lambda: Principal("ca-hcm", frozenset({"identity:issue"}), "k1"),
            require_revoke=lambda: Principal("ca-hcm", frozenset({"identity:revoke"}), "k1"),
            signer_for=lambda _agency, _now: TestSigner(),
            clock=lambda: NOW,
            public_base_url="https://id.hcmc.example",
        )
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"full_name": "Nguyễn Thị\u200b Minh Khai"}, "full_name"),
        ({"cccd": "079399001234", "birth_date": "2099-01-01"}, "birth_date"),
        ({"birth_date": (NOW + timedelta(days=2)).date().isoformat(), "cccd": "079326001234"}, "birth_date"),
    ],
    ids=["zero-width-name", "born-2099", "born-the-day-after-tomorrow"],
)
def test_http_registration_refuses_with_a_typed_422_naming_the_field(
    client: TestClient, change: dict[str, str], field: str
) -> None:
    r = client.post("/v1/citizens", json={**CITIZEN, **change})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "CITIZEN_INPUT_INVALID" and error["field"] == field
    assert error["message"].startswith(field)
    assert "Khai" not in r.text and change.get("cccd", CITIZEN["cccd"]) not in r.text


# --- README ---------------------------------------------------------------------------------------------------------


def _readme_citizen() -> dict[str, Any]:
    """The JSON body of the README's ``POST /v1/citizens`` example, exactly as a reader would paste it."""
    match = re.search(r"/v1/citizens -d \\\n\s*'(\{.*?\})'", README.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None, "README.md no longer has the citizen registration example"
    body = json.loads(match.group(1))
    assert isinstance(body, dict)
    return body


def test_readme_citizen_example_passes_the_validator() -> None:
    body = _readme_citizen()
    citizen = parse_citizen(body, now=NOW)  # was CCCD_MISMATCH: a male number with "sex": "female"
    assert citizen.full_name == body["full_name"] and citizen.sex == body["sex"]
