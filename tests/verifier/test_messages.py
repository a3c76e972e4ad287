"""Every pinned check code has a Vietnamese and an English message in the one catalogue (verifier/messages.py) that
the pages and the API share; the pinned list is the check-code tables of docs/qr-payload.md and docs/identity.md,
and every code the check modules can report is in it. The pages' own strings exist in both languages."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from ledger.documents.metadata import DOCUMENT_FIELDS
from verifier.messages import CHECK_MESSAGES, CHECK_NAMES, LANGS, VERDICTS, check_message
from verifier.metadata import mismatch_code
from verifier.report import Verdict

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _section(doc: str, heading: str) -> str:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def pinned_codes() -> set[str]:
    """The documented check codes (the placeholder ``METADATA_<FIELD>_MISMATCH`` as its eight codes)."""
    docs = _section("qr-payload.md", "## Check codes") + _section("identity.md", "## Check codes")
    codes = set(CODE.findall(docs)) - {"METADATA_"}
    return codes | {mismatch_code(f) for f in DOCUMENT_FIELDS}


def reported_codes() -> set[str]:
    """The literal codes the check modules pass to valid()/invalid()/skipped()."""
    found: set[str] = set()
    helpers = ("valid", "invalid", "skipped", "errored")
    for module in ("document.py", "credential.py", "metadata.py", "report.py"):
        tree = ast.parse((ROOT / "verifier" / module).read_text(encoding="utf-8"))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) in helpers]
        for call in calls:
            code = call.args[1] if len(call.args) >= 2 else None
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                found.add(code.value)
    return found


def test_the_pinned_list_is_read_from_the_docs() -> None:
    codes = pinned_codes()
    assert {"FILE_MISMATCH", "DOC_SUPERSEDED", "AUDIENCE_NOT_CHECKED", "METADATA_TITLE_MISMATCH"} <= codes
    assert len(codes) > 70


def test_every_reported_code_is_pinned() -> None:
    reported = reported_codes()
    assert len(reported) > 40 and reported - pinned_codes() == set()


@pytest.mark.parametrize("lang", LANGS)
def test_every_pinned_check_code_has_a_message(lang: str) -> None:
    missing = sorted(c for c in pinned_codes() if not (check_message(c, lang) or "").strip())
    assert missing == []


def test_both_languages_say_something_different_for_each_code() -> None:
    assert set(CHECK_MESSAGES["vi"]) == set(CHECK_MESSAGES["en"])
    same = [c for c in CHECK_MESSAGES["vi"] if CHECK_MESSAGES["vi"][c] == CHECK_MESSAGES["en"][c]]
    assert same == []


def test_every_verdict_and_check_name_has_both_languages() -> None:
    assert set(VERDICTS) == {v.value for v in Verdict}
    for table in (VERDICTS, CHECK_NAMES):
        assert all(set(names) == set(LANGS) and all(names.values()) for names in table.values())


def test_the_pages_strings_have_the_same_keys_in_both_languages() -> None:
    catalogues = {
        lang: json.loads((ROOT / "xacthuc" / "web" / "messages" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGS
    }
    assert set(catalogues["vi"]) == set(catalogues["en"])
    assert all(v.strip() for c in catalogues.values() for v in c.values())


def test_the_api_serves_the_same_catalogue_as_the_pages() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from verifier.api.routes import build_router

    def never(_: object) -> None:
        raise AssertionError("no verification here")

    app = FastAPI()
    app.include_router(build_router(verify=never, file_limit=1))  # type: ignore[arg-type]
    body = TestClient(app).get("/v1/messages").json()
    assert body == {"verdicts": VERDICTS, "checks": CHECK_NAMES, "codes": CHECK_MESSAGES}
    for lang in LANGS:
        assert pinned_codes() <= set(body["codes"][lang])
