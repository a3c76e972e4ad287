"""The verification fast path (``xacthuc._verify_fast_path``) answers exactly what the route answers: the app with it
and the app without it (``create_app(fast_verify=False)``), over the same services and data, give byte for byte the
same status, headers and body for every kind of request, and the fast path answers by itself only a report that
needed no network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import verifier.api.routes
import xacthuc._verify_fast_path
from ledger.chain.index import ChainIndexer
from tests.e2e.test_documents_e2e import META, Stack, stack  # noqa: F401  (the documents end-to-end stack)
from verifier.dispatch import VerifyRequest
from xacthuc.app import create_app
from xacthuc.server_verifier import ServerVerifier

pytestmark = pytest.mark.anvil


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the fast path and the route each read a JSON body."""
    calls = {"fast": 0, "route": 0}

    def counting(name: str, read: Callable[[bytes], VerifyRequest]) -> Callable[[bytes], VerifyRequest]:
        def wrapped(body: bytes) -> VerifyRequest:
            calls[name] += 1
            return read(body)

        return wrapped

    read = verifier.api.routes.request_from_json
    monkeypatch.setattr(xacthuc._verify_fast_path, "request_from_json", counting("fast", read))
    monkeypatch.setattr(verifier.api.routes, "request_from_json", counting("route", read))
    return calls


@pytest.fixture
def plain(stack: Stack) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(stack.services, fast_verify=False)) as client:
        yield client


def _answer(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    r = client.post("/v1/verify", content=body, headers={"X-Request-ID": "fast-path-test-0001", **headers})
    return r.status_code, sorted(r.headers.multi_items()), r.content


def test_the_fast_path_answers_what_the_route_answers(
    stack: Stack,  # noqa: F811
    plain: TestClient,
    counted: dict[str, int],
) -> None:
    services = stack.services
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)
    valid, old, new = (stack.issue({**META, "number": f"{n}/QĐ-UBND"}) for n in (2392, 2393, 2394))
    stack.anchor()
    r = stack.client.post(
        f"/v1/documents/{old['id']}/revoke", json={"replaced_by": new["id"]}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202
    stack.anchor()
    pending = stack.issue({**META, "number": "2395/QĐ-UBND"})
    indexer.sync()
    assert stack.verify(valid["verify_url"])["verdict"] == "valid"  # the registry is known: the fast path may run
    payload = valid["verify_url"].split("#", 1)[1]
    json_type = {"Content-Type": "application/json"}
    local = services.engine.dialect.name == "sqlite"  # on PostgreSQL every verification runs in a worker thread
    cases: list[tuple[str, bytes, dict[str, str], bool]] = [  # name, body, headers, answered by the fast path
        ("valid", b'{"payload": "%s"}' % valid["verify_url"].encode(), json_type, True),
        ("bare payload", b'{"payload": "%s"}' % payload.encode(), json_type, True),
        ("superseded", b'{"payload": "%s"}' % old["verify_url"].encode(), json_type, True),
        ("pending", b'{"payload": "%s"}' % pending["verify_url"].encode(), json_type, True),
        ("tampered", b'{"payload": "%s"}' % (payload[:-4] + "0000").encode(), json_type, True),
        ("a file hash", b'{"payload": "%s", "sha256": "%s"}' % (payload.encode(), b"ab" * 32), json_type, True),
        ("charset", b'{"payload": "%s"}' % payload.encode(), {"Content-Type": "application/json; charset=utf-8"}, True),
        ("not JSON", b'{"payload": ', json_type, False),
        ("not an object", b'["payload"]', json_type, False),
        ("no payload", b"{}", json_type, False),
        ("unknown payload", b'{"payload": "XZ9:nothing"}', json_type, False),
        ("not a string", b'{"payload": 7}', json_type, False),
        ("too long", b'{"payload": "%s"}' % (b"A" * 100_000), json_type, False),
        ("bad sha256", b'{"payload": "%s", "sha256": "xyz"}' % payload.encode(), json_type, False),
        ("another type", b"payload=x", {"Content-Type": "text/plain"}, False),
    ]
    for name, body, headers, fast in cases:
        before = dict(counted)
        ours = _answer(stack.client, body, headers)
        route_reads = counted["route"] - before["route"]
        assert ours == _answer(plain, body, headers), name
        if fast and local:
            assert ours[0] == 200 and route_reads == 0, name  # answered in front of the router
        else:
            assert route_reads == 1 or headers is not json_type, name  # handed on: the route answered


def test_a_verification_that_needs_the_chain_goes_to_the_route(
    stack: Stack,  # noqa: F811
    plain: TestClient,
    counted: dict[str, int],
) -> None:
    doc = stack.issue()
    stack.anchor()  # no chain index here: only the node can say whether the root is anchored
    body: Any = b'{"payload": "%s"}' % doc["verify_url"].encode()
    ours = _answer(stack.client, body, {"Content-Type": "application/json"})
    assert ours[0] == 200 and b'"verdict":"valid"' in ours[2]
    sqlite = stack.services.engine.dialect.name == "sqlite"
    assert counted == {"fast": 1 if sqlite else 0, "route": 1}  # PostgreSQL: no fast path at all
    assert ours == _answer(plain, body, {"Content-Type": "application/json"})


def test_the_event_loop_connection_holds_no_snapshot_between_verifications(stack: Stack) -> None:  # noqa: F811
    """``verify_now`` keeps one connection open on the event loop: between verifications it holds no read
    transaction, so a checkpoint does not wait on it and the next verification sees what was committed since."""
    services = stack.services
    if services.engine.dialect.name != "sqlite":
        pytest.skip("verifications run on the event loop only on SQLite")
    services.settings = services.settings.model_copy(update={"index_max_age": 3600.0})
    indexer = services.indexer = ChainIndexer(services.engine, stack.registry, services.clock)
    doc = stack.issue()
    stack.anchor()
    indexer.sync()
    verifier = ServerVerifier(services)
    request = VerifyRequest(payload=doc["verify_url"])
    verifier(request)  # reads the registry once: from now on verify_now may answer
    first = verifier.verify_now(request)
    assert first is not None and first.verdict.value == "valid"
    r = stack.client.post(
        f"/v1/documents/{doc['id']}/revoke", json={"reason": "annulled"}, headers=stack.auth("ubnd-hcm")
    )
    assert r.status_code == 202, r.text  # committed by another connection
    with services.engine.connect() as other:
        busy, _, _ = other.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0  # no reader held the old snapshot
    again = verifier.verify_now(request)
    assert again is not None and again.verdict.value == "revoked"  # this server's own record, read afresh
