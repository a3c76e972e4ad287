"""The ``/v`` page and its links: issue 8, item 13 (``/v?p=<payload>`` lost every ``+`` of a base43 payload, read
as a space) and item 11 (a skipped check with a warning, such as a presentation verified without an audience, must
be visible on the page).

The page's own script runs under Node (as the browser would run it, minus the DOM): the tests call its
``payloadFrom`` and ``renderReport`` with the raw ``location`` parts and a report.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from identity import service, transport
from identity.presentation import present
from keys.holder_key import P256Key
from tests.identity.conftest import (  # noqa: F401 (fixtures)
    CITIZEN,
    ISSUER,
    NOW,
    STATUS_BASE,
    DictResolver,
    TestSigner,
    issuer_signer,
    resolver,
    session,
)
from verifier.api import build_router
from verifier.credential import verify_credential
from verifier.payload import PayloadKind, parse_payload
from verifier.report import Report

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
DOC = "XD1:A00$AG9CFQC69OF.WD+CWJ63PV64H6D90Y7P"  # base43: `+`, `$`, `.`, `:` all raw


# --- the server reads `?p=` raw -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [f"{PUBLIC}/v?p={DOC}", f"{PUBLIC}/v?lang=vi&p={DOC}", f"{PUBLIC}/v?p={DOC.replace('+', '%2B')}"],
    ids=["raw", "with-another-parameter", "percent-escaped"],
)
def test_query_link_keeps_the_plus_signs_of_a_base43_payload(link: str) -> None:
    parsed = parse_payload(link)
    assert (parsed.kind, parsed.payload) == (PayloadKind.DOCUMENT, DOC)  # was "XD1:A00$AG9CFQC69OF.WD CWJ…"


def test_citizen_id_query_link_verifies(
    session: Session,  # noqa: F811
    issuer_signer: TestSigner,  # noqa: F811
    resolver: DictResolver,  # noqa: F811
) -> None:
    citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    holder = P256Key.generate()
    _, credential = service.issue_credential(
        session, citizen.id, issuer_signer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    payload = transport.encode(present(credential, ["full_name", "age_over_18"], holder, audience=PUBLIC, now=NOW))
    assert "+" in payload  # ~1,000 base43 characters: a `+` is all but certain, and it is what broke
    parsed = parse_payload(f"{PUBLIC}/v?p={payload}")
    assert parsed.payload == payload

    def fetch(uri: str) -> str:
        list_id = uri.rsplit("/", 1)[1]
        return service.status_list_token(session, list_id, issuer_signer, status_base_url=STATUS_BASE, now=NOW)

    report = verify_credential(parsed.payload, resolver, fetch, NOW, audience=PUBLIC)
    assert report.verdict == "valid", report.to_dict()


# --- the page's script ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page_script() -> str:
    def never(_: Any) -> Report:
        raise AssertionError("the page is only served here")

    app = FastAPI()
    app.include_router(build_router(verify=never, file_limit=1024))
    html = TestClient(app).get("/v").text
    match = re.search(r"<script>(.*?)</script>", html, re.DOTALL)
    assert match is not None
    return match.group(1)


def _node(script: str, expression: str) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make install brings it for the contract build)")
    program = script + "\nprocess.stdout.write(JSON.stringify(" + expression + "));\n"
    done = subprocess.run([node, "-e", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_page_reads_the_payload_raw_from_the_query_or_the_fragment(page_script: str) -> None:
    cases = {
        "query-raw": ["", f"?p={DOC}"],
        "query-escaped": ["", "?p=" + DOC.replace("+", "%2B").replace(":", "%3A")],
        "query-among-others": ["", f"?lang=vi&p={DOC}"],
        "fragment": [f"#{DOC}", ""],
        "fragment-wins": [f"#{DOC}", "?p=XD1:OTHER"],
        "none": ["", "?lang=vi"],
        "twice": ["", "?p=a&p=b"],
        "bad-escape": ["", "?p=XD1:%ZZ"],
    }
    got = _node(page_script, "Object.fromEntries(Object.entries(" + json.dumps(cases) + ").map(([k, [h, s]]) => "
                "[k, payloadFrom(h, s)]))")  # fmt: skip
    assert got == {
        "query-raw": DOC,
        "query-escaped": DOC,
        "query-among-others": DOC,
        "fragment": DOC,
        "fragment-wins": DOC,
        "none": "",
        "twice": "",
        "bad-escape": "XD1:%ZZ",  # left for the server to refuse with a typed error
    }


def _report(audience_check: dict[str, Any]) -> dict[str, Any]:
    return {
        "verdict": "valid",
        "kind": "citizen_id",
        "checks": [
            {"name": "signature", "status": "valid", "code": "SIGNATURE_VALID", "message": "ok"},
            {"name": "key_binding", "status": "valid", "code": "KEY_BINDING_VALID", "message": "ok"},
            audience_check,
        ],
        "issuer": {"id": "ca-hcm", "name": "Công an <TP.HCM>"},
        "claims": {"age_over_18": True},
        "anchor": None,
    }


def test_page_shows_the_replay_warning_of_a_presentation_verified_without_an_audience(page_script: str) -> None:
    message = "no audience was given to check: … can replay it"
    skipped = {
        "name": "audience",
        "status": "skipped",
        "code": "AUDIENCE_NOT_CHECKED",
        "message": message,
        "data": {"warning": "replay", "aud": "https://bank.example"},
    }
    html = _node(page_script, f"renderReport({json.dumps(_report(skipped))})")
    warning = re.search(r'<p class="warn" role="alert" data-warning="AUDIENCE_NOT_CHECKED">(.*?)</p>', html)
    assert warning is not None, html
    assert "Cảnh báo" in warning.group(1) and "dùng lại" in warning.group(1) and message in warning.group(1)
    assert html.index("data-warning") < html.index("<ul>")  # above the list, not lost in it
    assert '<section data-verdict="valid">' in html
    assert '<li data-check="audience" data-status="skipped">' in html
    assert "Công an &#60;TP.HCM&#62;" in html  # still escaped


def test_page_shows_no_warning_when_the_audience_was_checked(page_script: str) -> None:
    matched = {
        "name": "audience",
        "status": "valid",
        "code": "AUDIENCE_MATCHED",
        "message": "made for this verifier",
        "data": {"aud": "https://bank.example"},
    }
    html = _node(page_script, f"renderReport({json.dumps(_report(matched))})")
    assert "warn" not in html and '<li data-check="audience" data-status="valid">' in html
