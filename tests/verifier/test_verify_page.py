"""The ``/v`` page's links: issue 8, item 13 (``/v?p=<payload>`` lost every ``+`` of a base43 payload, read as a
space). The page's ``payloadFrom`` (xacthuc/web/static/verify/payload.js) runs under Node with the raw ``location``
parts; the result card itself, warnings included, is tested in Chromium (tests/web/test_verify_card.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
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
from verifier.credential import verify_credential
from verifier.payload import PayloadKind, parse_payload

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

PAYLOAD_JS = Path(__file__).resolve().parents[2] / "xacthuc" / "web" / "static" / "verify" / "payload.js"


def _node(expression: str) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make install brings it for the contract build)")
    program = (
        f"import {{ payloadFrom }} from {json.dumps(PAYLOAD_JS.as_uri())};\n"
        f"process.stdout.write(JSON.stringify({expression}));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_page_reads_the_payload_raw_from_the_query_or_the_fragment() -> None:
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
    got = _node("Object.fromEntries(Object.entries(" + json.dumps(cases) + ").map(([k, [h, s]]) => "
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
