"""Idempotency keys (issue 10): ``POST /v1/documents`` and ``:batch`` with an ``Idempotency-Key`` answer a repeated
request with the first answer (status and body), never a second document; the same key with another request is
409 ``IDEMPOTENCY_KEY_REUSED``. Keys are per agency, durable in the documents' transaction, kept 24 hours, and two
concurrent requests with one key issue once. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from ledger.chain.client import RegistryClient
from ledger.documents.idempotency import (
    KEY_TTL,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyRow,
    StoredAnswer,
    check_key,
    once,
    request_sha256,
)
from ledger.documents.issuing import DocumentRow
from tests.ledger._issuing_api import Api, issuing_api

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    yield from issuing_api(engine, tmp_path, registry)


def _documents(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(DocumentRow)).one())


# ------------------------------------------------------------------------------------------------------- HTTP
def test_same_key_same_request_returns_the_first_answer(api: Api, engine: Engine) -> None:
    first = api.issue(key="order-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers, first.text
    again = api.issue(key="order-1")
    assert again.status_code == 201 and again.json() == first.json()  # the first answer, status and body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _documents(engine) == 1


def test_same_key_other_request_is_refused(api: Api, engine: Engine) -> None:
    assert api.issue(key="order-1").status_code == 201
    for other in (
        api.issue(b"another file", key="order-1"),
        api.issue(key="order-1", title="Về việc khác"),
        api.batch([({}, b"%PDF-1.7 decision")], key="order-1"),  # the same document through the other route
    ):
        assert other.status_code == 409, other.text
        error = other.json()["error"]
        assert error["code"] == "IDEMPOTENCY_KEY_REUSED" and "order-1" in error["message"]
    assert _documents(engine) == 1


def test_batch_same_key_replays(api: Api, engine: Engine) -> None:
    items = [({"number": f"{i}/QĐ-UBND"}, b"file %d" % i) for i in range(1, 4)]
    first = api.batch(items, key="archive-2024-07")
    assert first.status_code == 201, first.text
    again = api.batch(items, key="archive-2024-07")
    assert again.status_code == 201 and again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.batch(items[:2], key="archive-2024-07")
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _documents(engine) == 3


def test_key_is_per_agency(api: Api, engine: Engine) -> None:
    q3 = api.issue(key="same-key")
    q5 = api.issue(key="same-key", agency="ubnd-q5")
    assert (q3.status_code, q5.status_code) == (201, 201)
    assert q3.json()["id"] != q5.json()["id"] and q5.json()["receipt"]["issuer_id"] == "ubnd-q5"
    assert _documents(engine) == 2


def test_failed_request_stores_no_key(api: Api, engine: Engine) -> None:
    refused = api.issue(key="k-1", number="2392/XYZ")
    assert refused.status_code == 422
    fixed = api.issue(key="k-1")  # the same key, the request corrected: nothing was stored for the refused one
    assert fixed.status_code == 201, fixed.text
    with Session(engine) as s:
        assert len(s.exec(select(IdempotencyRow)).all()) == 1


def test_invalid_key_is_refused(api: Api, engine: Engine) -> None:
    for bad in ("", "x" * 256, "two words"):
        r = api.issue(key=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] in ("IDEMPOTENCY_KEY_INVALID", "INVALID_INPUT"), r.text
    assert api.issue(key="x" * 256).json()["error"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert _documents(engine) == 0


def test_openapi_documents_the_idempotency_key(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in ("/v1/documents", "/v1/documents:batch"):
        op = spec["paths"][path]["post"]
        [header] = [p for p in op["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        assert "IDEMPOTENCY_KEY_REUSED" in header["description"] and "24 hours" in header["description"]
        assert "IDEMPOTENCY_KEY_REUSED" in op["responses"]["409"]["description"]
        assert "DOC_NUMBER_TAKEN" in op["responses"]["409"]["description"]


# ------------------------------------------------------------------------------------------------------- domain
def _run(calls: list[str], answer: dict[str, Any]) -> Any:
    def run() -> tuple[int, dict[str, Any]]:
        calls.append("run")
        return 201, answer

    return run


def test_key_is_written_in_the_documents_transaction(engine: Engine) -> None:
    calls: list[str] = []
    request = request_sha256("test", b"body")
    with Session(engine) as s:
        once(s, agency_id="a", key="k", request=request, now=NOW, run=_run(calls, {"n": 1}))
        s.rollback()  # the caller's transaction fails after the answer: the key goes with it
    with Session(engine) as s:
        assert s.exec(select(IdempotencyRow)).all() == []
        answer = once(s, agency_id="a", key="k", request=request, now=NOW, run=_run(calls, {"n": 2}))
        s.commit()
    assert answer == StoredAnswer(201, {"n": 2}) and calls == ["run", "run"]


def test_key_expires_after_24_hours(engine: Engine) -> None:
    calls: list[str] = []
    request = request_sha256("test", b"body")
    with Session(engine) as s:
        once(s, agency_id="a", key="old", request=request, now=NOW, run=_run(calls, {"n": 1}))
        once(s, agency_id="b", key="other", request=request, now=NOW, run=_run(calls, {"n": 1}))
        s.commit()
    with Session(engine) as s:  # within 24 hours: replayed, even for another request refused
        replay = once(s, agency_id="a", key="old", request=request, now=NOW + KEY_TTL, run=_run(calls, {"n": 2}))
        assert replay.replayed and replay.body == {"n": 1}
        with pytest.raises(IdempotencyKeyReused):
            once(s, agency_id="a", key="old", request="other", now=NOW + KEY_TTL, run=_run(calls, {}))
    later = NOW + KEY_TTL + timedelta(seconds=1)
    with Session(engine) as s:  # past them: a new request, and the old keys are deleted by the next claim
        fresh = once(s, agency_id="a", key="old", request="other", now=later, run=_run(calls, {"n": 3}))
        s.commit()
        assert not fresh.replayed and fresh.body == {"n": 3}
        assert [(r.agency_id, r.key) for r in s.exec(select(IdempotencyRow)).all()] == [("a", "old")]


def test_check_key() -> None:
    assert check_key("0f8fad5b-d9cb-469f-a165-70867728950e") == "0f8fad5b-d9cb-469f-a165-70867728950e"
    for bad in ("", " ", "a b", "é", "x" * 256, "\x00"):
        with pytest.raises(IdempotencyKeyInvalid):
            check_key(bad)


def test_request_hash_tells_requests_apart() -> None:
    assert request_sha256("r", {"a": 1, "b": 2}) == request_sha256("r", {"b": 2, "a": 1})  # key order is no change
    assert len({request_sha256("r", "ab", "c"), request_sha256("r", "a", "bc"), request_sha256("s", "ab", "c")}) == 3
    assert request_sha256("r", b"x") == request_sha256("r", "x")  # text is its UTF-8 bytes


def test_concurrent_repeats_of_one_key_issue_once(engine: Engine) -> None:
    # The first request claims the key and works; the second, same key and request, waits on the key's primary key
    # until the first commits, then answers what the first stored. run() runs once.
    calls: list[str] = []
    request = request_sha256("test", b"body")
    second: list[StoredAnswer | BaseException] = []

    def repeat() -> None:
        with Session(engine) as s2:
            try:
                second.append(once(s2, agency_id="a", key="k", request=request, now=NOW, run=_run(calls, {"n": 2})))
                s2.commit()
            except Exception as exc:
                second.append(exc)

    with Session(engine) as s1:
        first = once(s1, agency_id="a", key="k", request=request, now=NOW, run=_run(calls, {"n": 1}))
        thread = threading.Thread(target=repeat)
        thread.start()
        if engine.dialect.name == "postgresql":  # wait until the repeat waits on the key
            deadline = time.monotonic() + 30
            with engine.connect() as c:
                while not c.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                    assert time.monotonic() < deadline, "the repeat never waited on the key"
                    c.rollback()
        s1.commit()
        thread.join(60)
    assert calls == ["run"] and first == StoredAnswer(201, {"n": 1})
    assert second == [StoredAnswer(201, {"n": 1}, replayed=True)]


def test_concurrent_http_repeats_issue_one_document(api: Api, engine: Engine) -> None:
    answers: list[Any] = []
    barrier = threading.Barrier(3)

    def post() -> None:
        barrier.wait(30)
        answers.append(api.issue(key="double-click"))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(r.status_code for r in answers) == [201, 201, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert _documents(engine) == 1
