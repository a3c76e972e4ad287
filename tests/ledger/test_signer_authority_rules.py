"""The Decree 30 signing rules (``ledger.offices.rules``), driven by the vectors in tests/vectors/signer_authority/:
every signing form, a deputy signing KT. for the right and the wrong head, a delegation used one day after it ended,
an appointment anchored after the document it would justify, names differing only in NFC form or by a homoglyph."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.offices.entries import delegation_data, office_data
from ledger.offices.errors import OfficeFieldInvalid
from ledger.offices.rules import Signature, anchored_before, decide, fold

VECTORS = Path(__file__).parents[1] / "vectors" / "signer_authority"
CASES = sorted(VECTORS.glob("*.json"))


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_signer_authority_vector(path: Path) -> None:
    vec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    entries = vec["entries"]
    if "anchored_at" in vec:
        document_at = _time(vec["document_anchored_at"])
        blocks = vec.get("blocks", {})
        entries = [
            e
            for e in entries
            if anchored_before(
                _time(vec["anchored_at"][str(e["seq"])]),
                document_at,
                blocks.get(str(e["seq"])),
                vec.get("document_block"),
            )
        ]
    s = vec["signature"]
    decision = decide(
        fold(entries), Signature(s["name"], s["title"], s["form"], date.fromisoformat(s["on"]), s["document_type"])
    )
    assert decision.code == vec["expect"]["code"], decision.message
    if vec["expect"]["code"] is None:
        assert decision.entry == vec["expect"]["entry"]
    assert decision.message


def test_every_signing_form_has_a_valid_and_a_refused_vector() -> None:
    forms: dict[str | None, set[bool]] = {}
    for path in CASES:
        vec = json.loads(path.read_text(encoding="utf-8"))
        forms.setdefault(vec["signature"]["form"], set()).add(vec["expect"]["code"] is None)
    assert forms == {f: {True, False} for f in (None, "TM.", "KT.", "Q.", "TL.", "TUQ.")}


def test_the_homoglyph_is_named_not_normalised_away() -> None:
    vec = json.loads((VECTORS / "name_with_a_cyrillic_homoglyph_is_refused.json").read_text(encoding="utf-8"))
    s = vec["signature"]
    assert unicodedata.normalize("NFKC", s["name"]) != "Nguyễn Văn An"  # no normalisation would make it match
    decision = decide(fold(vec["entries"]), Signature(s["name"], s["title"], None, date(2024, 7, 15)))
    assert decision.data["foreign_letters"] == ["CYRILLIC CAPITAL LETTER A"]


def test_writing_a_name_with_a_homoglyph_is_refused() -> None:
    fields = {"title": "Phó Chủ tịch", "holder": "Trần Thị B\u0456nh", "from": "2024-01-01"}  # Ukrainian і
    with pytest.raises(OfficeFieldInvalid) as refused:
        office_data(fields)
    assert refused.value.field == "holder" and "CYRILLIC" in refused.value.message


def test_names_are_stored_in_nfc() -> None:
    data = office_data(
        {"title": "Chủ tịch", "holder": unicodedata.normalize("NFD", "Nguyễn Văn An"), "from": "2024-01-01"}
    )
    assert data["holder"] == unicodedata.normalize("NFC", "Nguyễn Văn An")


def test_a_tuq_delegation_needs_an_end_and_its_authorising_document() -> None:
    base = {
        "form": "TUQ.",
        "delegate": "Hoàng Thị Giang",
        "delegate_title": "Trưởng phòng Nội vụ",
        "from": "2024-01-01",
    }
    with pytest.raises(OfficeFieldInvalid) as no_end:
        delegation_data(base)
    assert no_end.value.field == "until"
    with pytest.raises(OfficeFieldInvalid) as no_number:
        delegation_data({**base, "until": "2024-06-30"})
    assert no_number.value.field == "authorising_number"
    data = delegation_data(
        {**base, "until": "2024-06-30", "authorising_number": "15/qd-ubnd", "document_types": "qđ,tb"}
    )
    assert data["authorising_number"] == "15/QĐ-UBND" and data["document_types"] == ["QĐ", "TB"]
    tl = delegation_data({**base, "form": "tl"})  # a TL. rests on the agency's own rules: open-ended, no number
    assert tl["form"] == "TL." and tl["until"] is None


def test_an_entry_not_anchored_never_counts_and_the_same_time_is_not_before() -> None:
    t = datetime(2024, 4, 2, 3, 0)
    assert not anchored_before(None, t) and not anchored_before(None, None)
    assert not anchored_before(t, t) and anchored_before(t, None)
