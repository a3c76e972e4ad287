"""``GET /metrics`` (issue 14, Observability): documents issued by agency, leaves queued, the anchoring lag, batches
by state, verdicts by kind and verdict, RPC errors by endpoint (credentials redacted), request latency histograms by
path template. Gas used and a live chain: tests/e2e/test_logs_hold_no_secrets.py."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from web3 import Web3

from keys.bootstrap import bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from ledger.chain.outbox import AnchorBatch, BatchState
from ledger.chain.rpc_failover import rpc_provider
from tests.ledger._issuing_api import Api, issuing_api
from xacthuc.app import create_app
from xacthuc.chainsetup import ChainHandle
from xacthuc.devchain import free_port
from xacthuc.services import Services
from xacthuc.settings import Settings


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[Api]:
    yield from issuing_api(engine, tmp_path, registry)


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of every sample of ``name`` (labels as written, ``""`` for none)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name) :]] = float(value)
    return out


def test_documents_issued_by_agency_and_leaves_queued_come_from_the_database(api: Api) -> None:
    for n in range(3):
        assert api.issue(f"doc {n}".encode(), number=f"{n + 1}/QĐ-UBND").status_code == 201
    assert api.issue(b"q5", agency="ubnd-q5").status_code == 201
    text = api.client.get("/metrics").text
    assert _samples(text, "xacthuc_documents_issued_total") == {
        '{agency="ubnd-q3"}': 3.0,
        '{agency="ubnd-q5"}': 1.0,
    }
    assert _samples(text, "xacthuc_anchor_leaves_pending") == {"": 4.0}
    assert _samples(text, "xacthuc_oldest_pending_leaf_seconds")[""] >= 0
    assert any(
        line.startswith("# TYPE xacthuc_documents_issued") and line.endswith(" counter") for line in text.splitlines()
    )


def test_batches_and_revocations_are_counted_by_every_state_zero_included(api: Api) -> None:
    text = api.client.get("/metrics").text
    states = ["built", "sent", "confirmed", "final", "failed"]
    assert _samples(text, "xacthuc_anchor_batches") == {f'{{state="{s}"}}': 0.0 for s in states}
    assert _samples(text, "xacthuc_revocations") == {f'{{state="{s}"}}': 0.0 for s in states}


def test_batches_by_state_follow_every_change_of_state_final_counted_from_the_tally(api: Api, engine: Engine) -> None:
    # ``final`` is the rest of the tally of all batches (xacthuc/metrics.py): it must follow batches cut, moving on,
    # failing, and a final batch the chain lost going back to ``confirmed``, as a plain count by state does.
    rng = random.Random(14)
    now = datetime.now(UTC)

    def scrape_equals_a_plain_count() -> None:
        with Session(engine) as s:
            rows = s.exec(select(AnchorBatch.state, func.count()).group_by(col(AnchorBatch.state))).all()
        want = {f'{{state="{state.value}"}}': 0.0 for state in BatchState}
        want.update({f'{{state="{state}"}}': float(n) for state, n in rows})
        assert _samples(api.client.get("/metrics").text, "xacthuc_anchor_batches") == want

    ids = []
    with Session(engine) as s:
        for k, state in enumerate(["final"] * 5 + ["confirmed", "sent", "built", "failed"]):
            batch = AnchorBatch(account="0x" + "a" * 40, state=state, root=rng.randbytes(32), count=1, tree=b"t",
                                created_at=now - timedelta(hours=2, minutes=-k))  # fmt: skip
            s.add(batch)
            s.flush()
            ids.append(batch.id)
        s.commit()
    scrape_equals_a_plain_count()
    for batch_id, state in [(ids[0], "confirmed"), (ids[5], "final"), (ids[6], "confirmed"), (ids[7], "failed")]:
        with Session(engine) as s:
            row = s.get(AnchorBatch, batch_id)
            assert row is not None
            row.state = state
            s.add(row)
            s.commit()
        scrape_equals_a_plain_count()
    with Session(engine) as s:
        s.add(AnchorBatch(account="0x" + "a" * 40, state="final", root=rng.randbytes(32), count=1, tree=b"t",
                          created_at=now))  # fmt: skip
        s.commit()
    scrape_equals_a_plain_count()


def test_verdicts_are_counted_by_kind_and_verdict(api: Api) -> None:
    doc = api.issue().json()
    before = _samples(api.client.get("/metrics").text, "xacthuc_verifications_total")
    for _ in range(2):
        assert api.client.post("/v1/verify", json={"payload": doc["verify_url"]}).status_code == 200
    after = _samples(api.client.get("/metrics").text, "xacthuc_verifications_total")
    report = api.client.post("/v1/verify", json={"payload": doc["verify_url"]}).json()
    key = f'{{kind="document",verdict="{report["verdict"]}"}}'
    assert after[key] - before.get(key, 0.0) == 2.0


def test_request_latency_histograms_are_by_path_template(api: Api) -> None:
    doc = api.issue().json()
    api.client.get(f"/v1/documents/{doc['id']}")
    api.client.get("/v1/documents/01JNOSUCHDOCUMENT000000000")
    text = api.client.get("/metrics").text
    buckets = _samples(text, "xacthuc_http_request_seconds_bucket")
    assert buckets['{le="+Inf",route="/v1/documents/{document_id}"}'] == 2.0
    assert buckets['{le="0.001",route="/v1/documents/{document_id}"}'] <= 2.0
    assert doc["id"] not in text  # a path's ids never become a label
    counts = _samples(text, "xacthuc_http_requests_total")
    assert counts['{method="GET",route="/v1/documents/{document_id}",status="404"}'] == 1.0


def test_rpc_errors_are_counted_by_endpoint_with_credentials_redacted(engine: Engine, tmp_path: Path) -> None:
    dead = [free_port(), free_port()]  # nothing listens: every call is refused
    url = f"http://user:secret@127.0.0.1:{dead[0]}/v3/0123456789abcdef0123456789abcdef,http://127.0.0.1:{dead[1]}"
    w3 = Web3(rpc_provider(url, timeout=0.5))
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(
            tmp_path / "var", session, "metrics passphrase", datetime.now(UTC) - timedelta(minutes=1), kdf=TEST_KDF
        )
        session.commit()
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", rpc_url=url)
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        chain=ChainHandle(w3, url, None),
        registry_client=RegistryClient(w3, "0x" + "11" * 20),
    )
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        before = _samples(client.get("/metrics").text, "xacthuc_rpc_errors_total")
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "chain" in ready.json()["down"]
        text = client.get("/metrics").text
    errors = _samples(text, "xacthuc_rpc_errors_total")
    first = f'{{endpoint="http://***@127.0.0.1:{dead[0]}/v3/***"}}'
    second = f'{{endpoint="http://127.0.0.1:{dead[1]}"}}'
    assert errors[first] > before.get(first, 0.0) and errors[second] > before.get(second, 0.0)
    assert "secret" not in text and "0123456789abcdef" not in text
