"""The Python CLI wallet against the live server: ``xacthuc wallet receive`` takes an offer made with
``POST /v1/citizens/{id}/offers`` (the demo identity agency's API key), ``xacthuc wallet respond`` answers a request
made with ``POST /v1/presentation-requests``, and the relying party's ``GET`` shows the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interop.conftest import new_offer, new_request, request_status, xacthuc
from tests.web.conftest import Server


@pytest.fixture(scope="module")
def wallet_dir(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A citizen's data dir with a wallet holding a credential received over OpenID4VCI by the CLI."""
    work = tmp_path_factory.mktemp("cli-wallet")
    made = xacthuc(work, "wallet", "init", "--json")
    assert made.returncode == 0, made.stderr
    offer = new_offer(server)
    got = xacthuc(work, "wallet", "receive", offer["wallet_url"], "--tx-code", offer["tx_code"], "--json")
    assert got.returncode == 0, got.stderr
    return work


def test_cli_wallet_receive_stores_the_offered_credential(server: Server, wallet_dir: Path) -> None:
    shown = xacthuc(wallet_dir, "wallet", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    (credential,) = json.loads(shown.stdout)["credentials"]
    assert credential["iss"] == f"{server.base}/agencies/ca-hcm"
    assert credential["claims"]["full_name"] == "Nguyễn Thị Minh Khai"


def test_cli_wallet_receive_asks_for_the_code_when_not_given(server: Server, tmp_path: Path) -> None:
    assert xacthuc(tmp_path, "wallet", "init").returncode == 0
    offer = new_offer(server)
    got = xacthuc(tmp_path, "wallet", "receive", offer["offer_uri"], stdin=offer["tx_code"] + "\n")
    assert got.returncode == 0, got.stderr
    assert "6-digit code" in got.stdout  # the issuer's tx_code description is the prompt
    assert "added to" in got.stdout


def test_cli_wallet_respond_presents_exactly_the_asked_claims(server: Server, wallet_dir: Path) -> None:
    asked = new_request(server, ["age_over_18"], purpose="thuê nhà")
    answered = xacthuc(wallet_dir, "wallet", "respond", asked["wallet_link"], "--yes")
    assert answered.returncode == 0, answered.stderr
    host = server.base.removeprefix("http://")
    assert f"The answer goes to: {host}" in answered.stderr  # who asks, for what, and where the answer goes
    assert "Purpose: thuê nhà" in answered.stderr and "  - age_over_18" in answered.stderr
    assert "presented to the verifier" in answered.stdout
    status = request_status(server, asked["id"])
    assert status["state"] == "answered"
    assert status["report"]["verdict"] == "valid", status["report"]
    assert set(status["report"]["claims"]) == {"age_over_18"}


def test_cli_wallet_respond_asks_before_sending(server: Server, wallet_dir: Path) -> None:
    asked = new_request(server, ["full_name", "birth_date"])
    answered = xacthuc(wallet_dir, "wallet", "respond", asked["wallet_url"], stdin="y\n", lang="vi_VN.UTF-8")
    assert answered.returncode == 0, answered.stderr
    assert "Thông tin được hỏi:" in answered.stderr and "full_name (Họ và tên)" in answered.stderr
    assert "Gửi các thông tin này?" in answered.stdout
    status = request_status(server, asked["id"])
    assert status["report"]["verdict"] == "valid" and set(status["report"]["claims"]) == {"full_name", "birth_date"}


def test_cli_wallet_respond_refuse_gives_state_refused(server: Server, wallet_dir: Path) -> None:
    asked = new_request(server, ["full_name"])
    refused = xacthuc(wallet_dir, "wallet", "respond", asked["wallet_link"], "--refuse", "--json")
    assert refused.returncode == 0, refused.stderr
    assert json.loads(refused.stdout)["answer"] == "refused"
    status = request_status(server, asked["id"])
    assert status["state"] == "refused" and status["report"] is None


def test_cli_wallet_respond_to_an_answered_request_is_refused_by_the_verifier(server: Server, wallet_dir: Path) -> None:
    asked = new_request(server, ["age_over_18"])
    assert xacthuc(wallet_dir, "wallet", "respond", asked["wallet_link"], "--yes").returncode == 0
    again = xacthuc(wallet_dir, "wallet", "respond", asked["wallet_link"], "--yes", "--json")
    assert again.returncode == 2
    assert json.loads(again.stdout)["error"]["code"] == "VERIFIER_ERROR"
    assert request_status(server, asked["id"])["report"]["verdict"] == "valid"  # the stored report stays


def test_cli_wallet_receive_with_a_wrong_tx_code_says_so_clearly(server: Server, tmp_path: Path) -> None:
    assert xacthuc(tmp_path, "wallet", "init").returncode == 0
    offer = new_offer(server)
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    first = xacthuc(tmp_path, "wallet", "receive", offer["offer_uri"], "--tx-code", wrong)
    assert first.returncode == 2
    assert "TX_CODE_WRONG" in first.stderr and "wrong transaction code, 4 tries left" in first.stderr
    second = xacthuc(tmp_path, "wallet", "receive", offer["offer_uri"], "--tx-code", wrong, lang="vi_VN.UTF-8")
    assert "Mã giao dịch không đúng; còn 3 lần thử." in second.stderr
    got = xacthuc(tmp_path, "wallet", "receive", offer["offer_uri"], "--tx-code", offer["tx_code"])
    assert got.returncode == 0, got.stderr  # the right code still works while tries are left
    used = xacthuc(tmp_path, "wallet", "receive", offer["offer_uri"], "--tx-code", offer["tx_code"], "--json")
    assert json.loads(used.stdout)["error"]["code"] == "OFFER_UNAVAILABLE"
