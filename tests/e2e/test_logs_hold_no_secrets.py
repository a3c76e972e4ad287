"""Issue 14, Observability: a full flow against a live ``xacthuc serve --dev`` (documents issued, verified and revoked;
a citizen registered and given a credential, an OpenID4VCI offer redeemed by the CLI wallet, a presentation request
answered; a staff sign-in with a wrong then the right password), then the whole server log is searched for every
secret the flow used: none may appear. The same run's ``/metrics`` counts what the flow did, and ``/readyz`` fails
with the node killed and recovers by itself once it is back on its port."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from tests.interop.conftest import IDENTITY_AGENCY, new_offer, new_request, request_status, xacthuc
from tests.security._e2e_run import cccd_2003_female_hcm, find_leaks, name_forms, sign_in
from tests.web.conftest import TIMEOUT, Server, serve
from xacthuc.devchain import AnvilNode, find_anvil_binary

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

FULL_NAME = "Trịnh Thị Thu Giang"
WALLET_PASSPHRASE = "citizen passphrase"  # tests.interop.conftest.xacthuc's
WRONG_PASSWORD = "wrong-password-" + secrets.token_hex(4)


@dataclass
class Flow:
    log: str
    metrics: str
    hidden: dict[str, str]  # what each secret is -> its value


def _sign_in(server: Server, username: str, password: str) -> int:
    status, client = sign_in(server.base, username, password)
    client.close()
    return status


def _run_flow(server: Server, hidden: dict[str, str]) -> None:
    creds = server.credentials
    hidden["admin token"] = creds["admin_token"]
    for agency in creds["agencies"]:
        hidden[f"API key of {agency['id']}"] = agency["api_key"]
        for staff in agency.get("staff", []):
            hidden[f"password of {staff['username']}"] = staff["password"]
    hidden["dev keystore passphrase"] = (server.data_dir / "dev-passphrase").read_text(encoding="utf-8").strip()
    hidden["wallet passphrase"] = WALLET_PASSPHRASE
    hidden["wrong password"] = WRONG_PASSWORD

    doc = server.issue("17/QĐ-UBND", b"%PDF-1.7 observability " + secrets.token_bytes(8))
    hidden["document payload"] = unquote(doc["verify_url"].split("#", 1)[1])
    server.wait_status(doc["id"], "anchored")
    assert server.verify(doc["verify_url"])["verdict"] == "valid"

    cccd = cccd_2003_female_hcm()
    hidden["CCCD number"], hidden["citizen's name"] = cccd, FULL_NAME
    for i, form in enumerate(sorted(name_forms(FULL_NAME))):  # NFD, without diacritics, in capitals
        hidden[f"citizen's name, form {i}"] = form
    citizen = httpx.post(
        f"{server.base}/v1/citizens",
        json={
            "cccd": cccd,
            "full_name": FULL_NAME,
            "birth_date": "2003-05-17",
            "sex": "female",
            "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
            "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
        },
        headers=server.auth(IDENTITY_AGENCY),
        timeout=TIMEOUT,
    )
    assert citizen.status_code == 201, citizen.text
    citizen_id = citizen.json()["id"]
    issued = httpx.post(
        f"{server.base}/v1/citizens/{citizen_id}/credentials",
        json={},
        headers=server.auth(IDENTITY_AGENCY),
        timeout=TIMEOUT,
    )
    assert issued.status_code == 201, issued.text
    credential = str(issued.json()["credential"])
    hidden["credential"] = credential
    assert server.verify(credential)["kind"] == "citizen_id"  # whatever its verdict: it is counted

    offer = new_offer(server, citizen_id)
    hidden["tx_code"] = offer["tx_code"]
    query = parse_qs(urlsplit(offer["offer_uri"]).query)
    offer_json = json.dumps(query)  # the pre-authorized code sits in the offer (by value or behind its URI)
    codes = re.findall(r'pre-authorized_code\\\\?"\s*:\s*\\\\?"([^"\\]+)', offer_json)
    for i, code in enumerate(codes):
        hidden[f"pre-authorized code {i}"] = code
    wallet = server.data_dir.parent / "wallet"
    wallet.mkdir()
    assert xacthuc(wallet, "wallet", "init", "--json").returncode == 0
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    assert xacthuc(wallet, "wallet", "receive", offer["offer_uri"], "--tx-code", wrong).returncode == 2
    got = xacthuc(wallet, "wallet", "receive", offer["offer_uri"], "--tx-code", offer["tx_code"], "--json")
    assert got.returncode == 0, got.stderr

    asked = new_request(server, ["full_name", "personal_id"])
    answered = xacthuc(wallet, "wallet", "respond", asked["wallet_link"], "--yes")
    assert answered.returncode == 0, answered.stderr
    assert request_status(server, asked["id"])["report"]["verdict"] == "valid"

    staff = next(s for a in creds["agencies"] if a["id"] == "ubnd-hcm" for s in a["staff"])
    assert _sign_in(server, staff["username"], WRONG_PASSWORD) != 303
    assert _sign_in(server, staff["username"], staff["password"]) == 303

    server.revoke(doc["id"])
    server.wait_status(doc["id"], "revoked")


def _kill_and_restart_the_node(server: Server) -> None:
    """``/readyz`` is 503 naming the chain while the embedded node is down, and 200 again, by itself, once a node
    with the same state answers on the same port."""
    record = json.loads((server.data_dir / "anvil" / "node.json").read_text(encoding="utf-8"))
    port = int(urlsplit(record["url"]).port or 0)
    os.kill(int(record["node_pid"]), signal.SIGKILL)
    down = _wait_ready(server, 503)
    assert "chain" in down["down"], down
    node = AnvilNode(find_anvil_binary(None), port=port, state_file=server.data_dir / "anvil" / "state.json")
    node.start()
    try:
        up = _wait_ready(server, 200)
        assert up["status"] in ("ready", "degraded") and up["block"] >= 1, up
    finally:
        node.stop()


def _wait_ready(server: Server, status: int, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        r = httpx.get(f"{server.base}/readyz", timeout=TIMEOUT)
        if r.status_code == status:
            return dict(r.json())
        assert time.monotonic() < deadline, f"/readyz stayed {r.status_code}: {r.text}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    work = tmp_path_factory.mktemp("logs-no-secrets")
    hidden: dict[str, str] = {}
    with serve(work) as server:
        _run_flow(server, hidden)
        metrics = httpx.get(f"{server.base}/metrics", timeout=TIMEOUT).text
        _kill_and_restart_the_node(server)
    return Flow((work / "serve.log").read_text(encoding="utf-8"), metrics, hidden)


def test_no_secret_api_key_passphrase_password_tx_code_cccd_or_name_in_any_log_line(flow: Flow) -> None:
    assert set(flow.hidden) >= {"admin token", "tx_code", "CCCD number", "citizen's name", "wrong password"}
    assert find_leaks(flow.hidden, {"the log": flow.log}) == []


def test_the_log_is_json_with_a_line_per_request_naming_its_template(flow: Flow) -> None:
    lines = [json.loads(line) for line in flow.log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "xacthuc.request"]
    templates = {line["path"] for line in requests}
    assert {
        "/v1/documents",
        "/v1/verify",
        "/v1/citizens",
        "/v1/citizens/{citizen_id}/offers",
        "/oid4vci/token",
        "/oid4vci/credential",
        "/v1/presentation-requests",
        "/agency/signin",
        "/v1/documents/{document_id}/revoke",
        "/readyz",
    } <= templates, templates
    assert all({"request_id", "method", "path", "status", "duration_ms"} <= set(line) for line in requests)
    assert len({line["request_id"] for line in requests}) == len(requests)  # one id per request
    not_json = [line for line in flow.log.splitlines() if line and not line.startswith("{")]
    # only what serve itself prints for a person (where it listens, where the demo credentials went), no log line
    assert all(line.startswith(("xacthuc ", "New data dir:")) for line in not_json), not_json


def _value(metrics: str, line_start: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(line_start)]
    assert values, f"no {line_start} in /metrics"
    return sum(values)


def test_live_metrics_count_what_the_flow_did(flow: Flow) -> None:
    m = flow.metrics
    assert _value(m, 'xacthuc_documents_issued_total{agency="ubnd-hcm"}') >= 1
    assert _value(m, 'xacthuc_verifications_total{kind="document",verdict="valid"}') >= 1
    assert _value(m, "xacthuc_verifications_total{kind=") >= 3  # the document, the credential, the presentation
    assert _value(m, 'xacthuc_anchor_gas_used_total{kind="batch"}') > 0
    assert (
        _value(m, 'xacthuc_anchor_batches{state="confirmed"}') + _value(m, 'xacthuc_anchor_batches{state="final"}') >= 1
    )
    assert _value(m, 'xacthuc_http_request_seconds_bucket{le="+Inf",route="/v1/verify"}') >= 2
    assert "xacthuc_anchor_leaves_pending " in m and "xacthuc_oldest_pending_leaf_seconds " in m
