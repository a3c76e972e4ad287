"""Issue 8, item 2: a revocation lost in a chain re-organisation is sent again, over HTTP on a real anvil.

Before the fix the API sent the revocation itself and recorded it as done: once its block was re-organised away
(``evm_snapshot`` before it, ``evm_revert`` after), ``POST /v1/verify`` said ``valid`` while ``GET`` said
``revoked``, nothing sent it again, and revoking again was refused. Now the revocation is an outbox row the
anchoring worker sends, confirms, watches for re-organisations and sends again.
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from ledger.chain.proof import RevocationReason
from tests.e2e.test_documents_e2e import Stack, stack  # noqa: F401  (the fixture)
from xacthuc.devchain import anvil_rpc

pytestmark = pytest.mark.anvil


def _revoked_events(s: Stack) -> list[Any]:
    topic = s.registry.artifact.event_topic("Revoked")
    return list(s.registry.w3.eth.get_logs({"address": s.registry.address, "topics": [topic], "fromBlock": 0}))


def test_revocation_reorganised_away_is_sent_again_and_verifies_revoked(stack: Stack) -> None:  # noqa: F811
    doc = stack.issue()
    stack.anchor()
    proof = stack.client.get(f"/v1/documents/{doc['id']}").json()["proof"]
    agency = Web3.to_checksum_address(stack.city.eth_address("ubnd-hcm"))
    root, leaf = bytes.fromhex(proof["root"][2:]), bytes.fromhex(proof["leaf"][2:])
    before_revocation = anvil_rpc(stack.anvil.url, "evm_snapshot")

    r = stack.client.post(
        f"/v1/documents/{doc['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text
    stack.anchor()  # the worker sends and confirms it
    assert stack.verify(doc["verify_url"])["verdict"] == "revoked"
    first = stack.client.get(f"/v1/documents/{doc['id']}").json()
    assert first["status"] == "revoked" and first["revocation"]["state"] == "confirmed"

    assert anvil_rpc(stack.anvil.url, "evm_revert", [before_revocation]) is True  # its block is gone
    assert stack.registry.status(agency, root, leaf).reason == RevocationReason.NONE
    # The chain lost it; this server still knows the agency revoked it, and never answers valid meanwhile.
    meanwhile = stack.verify(doc["verify_url"])
    assert meanwhile["verdict"] == "revoked"
    check = next(c for c in meanwhile["checks"] if c["name"] == "not_revoked")
    assert check["data"]["revocation_source"] == "server_record"
    again = stack.client.post(
        f"/v1/documents/{doc['id']}/revoke", json={"reason": "other"}, headers=stack.auth("ubnd-hcm")
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "DOC_ALREADY_REVOKED"  # it is on its way

    report = stack.services.anchorer().step()
    assert report.reorged == 1, report
    seen = stack.client.get(f"/v1/documents/{doc['id']}").json()
    assert seen["status"] == "anchored" and seen["revocation"]["state"] == "sent"  # the database follows the chain

    stack.anchor()  # the same revocation is sent again and confirmed
    assert stack.registry.status(agency, root, leaf).reason == RevocationReason.ANNULLED
    report = stack.verify(doc["verify_url"])
    assert report["verdict"] == "revoked"
    assert next(c for c in report["checks"] if c["name"] == "not_revoked")["code"] == "DOC_REVOKED"
    after = stack.client.get(f"/v1/documents/{doc['id']}").json()
    assert after["status"] == "revoked" and after["revocation"]["state"] == "confirmed"
    assert after["revocation"]["tx_hash"] == first["revocation"]["tx_hash"]  # the same signed bytes, mined again
    assert len(_revoked_events(stack)) == 1
