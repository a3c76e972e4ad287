"""The metadata JSON template (ledger.documents._fastjson) gives exactly what json.dumps gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ledger.documents._fastjson import metadata_json
from ledger.documents.metadata import DOCUMENT_FIELDS, parse_document

_METADATA = st.fixed_dictionaries({k: st.none() | st.text() for k in DOCUMENT_FIELDS})


@given(_METADATA)
def test_metadata_json_equals_json_dumps(meta: dict[str, str | None]) -> None:
    assert metadata_json(meta) == json.dumps(meta, ensure_ascii=False, sort_keys=True)


def test_a_parsed_document_with_quotes_controls_and_vietnamese() -> None:
    meta = parse_document(
        {
            "number": "2392/QĐ-UBND",
            "title": 'Về "kế hoạch" \\ số 2\u2028',
            "issuing_body": "Ủy ban nhân dân",
            "place": "Thành phố Hồ Chí Minh",
            "issued_on": "2024-07-15",
            "signer_name": "Nguyễn Văn Dũng",
            "signer_title": "Phó Chủ tịch",
        }
    ).to_dict()
    assert meta["signing_form"] is None
    assert metadata_json(meta) == json.dumps(meta, ensure_ascii=False, sort_keys=True)
