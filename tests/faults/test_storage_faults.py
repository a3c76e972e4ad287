"""Issue 15, faults of the storage under a steady load of issuing (one at a time and in batches) and verifying:
PostgreSQL restarts mid-transaction, and the SQLite data dir's disk is full. Afterwards the reconciliation: every
document answered 201 is stored and anchored exactly once, every failed request got a typed answer (503
``STORAGE_UNAVAILABLE``, 507 ``STORAGE_FULL``; never a 500), nothing was half-written, and the API recovered by
itself (``/readyz`` 200 again) without a restart.

PostgreSQL here is a private cluster (initdb into a temporary directory, its own port): the session's shared server
that other tests use is never touched. The full disk is SQLite's own ``SQLITE_FULL``: every pooled connection of the
server's engine is capped with ``PRAGMA max_page_count`` at checkout (no root, no loop mount needed), and the cap
lifted when space is "back".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ledger.documents.table import DocumentRow
from tests.faults._chain_faults import Load, Served, assert_clean, reconcile, serve_city, until
from tests.plugins.db import PostgresServer, _pg_bindir
from xacthuc.database import make_engine
from xacthuc.devchain import AnvilNode

pytestmark = [pytest.mark.fault, pytest.mark.anvil, pytest.mark.slow]

SEED_STORAGE = 1516


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this test alone: restarting it disturbs nobody."""
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing (scripts/test.sh installs Debian's postgresql)")
        pytest.skip("PostgreSQL binaries not installed")
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _restart_immediately(server: PostgresServer, _url: str) -> None:
    """``pg_ctl restart -m immediate``: every backend dies mid-transaction (as in a crash), then the server recovers."""
    pg_ctl = str(server.bindir / "pg_ctl")
    server._run(pg_ctl, "-D", str(server.datadir), "-l", str(server.root / "log"), "-m", "immediate", "-w", "restart")


def _terminate_backends(server: PostgresServer, database_url: str) -> None:
    """``pg_terminate_backend`` on every other session of the service's database (its pool and the worker's lock)."""
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    name = database_url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    admin.dispose()


def _stored_numbers(served: Served) -> set[str]:
    with Session(served.services.engine) as s:
        return set(s.exec(select(DocumentRow.number)).all())


def _half_written(served: Served, load: Load) -> list[str]:
    """Batches that failed yet left some of their documents stored (a batch is all or none)."""
    stored = _stored_numbers(served)
    return [
        f"batch {b[0]}..: {len(stored & set(b))} of {len(b)} stored"
        for b in load.failed_batches
        if 0 < len(stored & set(b)) < len(b)
    ]


@pytest.mark.postgres
def test_postgres_restart_mid_transaction_loses_no_document_and_the_api_recovers_alone(
    tmp_path: Path, anvil: AnvilNode, deployer: Any, private_postgres: PostgresServer
) -> None:
    url = private_postgres.create_database()
    with serve_city(tmp_path, url, anvil, deployer) as served:
        load = Load(served, SEED_STORAGE, batch_size=40)
        faults = 0
        with load:
            until(lambda: len(load.issued) >= 40, "the load issued nothing")
            for inject in (_restart_immediately, _terminate_backends):
                until(load.batch_in_flight.is_set, "no batch was in flight", poll=0.005)
                inject(private_postgres, url)
                faults += 1
                until(lambda: served.readyz() == 200, "/readyz never came back after the database restarted")
                more = len(load.issued) + 40
                until(lambda: len(load.issued) > more, "issuing never recovered by itself")  # noqa: B023
        figures = reconcile(served, load)
        figures.faults = faults
        figures.lost += _half_written(served, load)
        stored, acked = _stored_numbers(served), {served.get(d.id).json()["number"] for d in load.issued}
        figures.lost += [f"{n}: acknowledged, not stored" for n in acked - stored]
    assert_clean(figures, "postgres restart", SEED_STORAGE, allowed_codes={"STORAGE_UNAVAILABLE"})
    assert all(f.status == 503 for f in load.failures), load.failures


def _cap_pages(engine: Engine, full: dict[str, bool]) -> None:
    """At every checkout, cap the connection's database at its current size (plus a page or two) while ``full``:
    SQLite then answers SQLITE_FULL to any write that grows it, exactly as on a full file system."""

    @event.listens_for(engine, "checkout")
    def _cap(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages if full['on'] else 2**30}")
        cur.close()


def test_sqlite_disk_full_answers_507_writes_nothing_and_recovers_when_space_is_back(
    tmp_path: Path, anvil: AnvilNode, deployer: Any
) -> None:
    with serve_city(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", anvil, deployer) as served:
        full = {"on": False}
        _cap_pages(served.services.engine, full)
        load = Load(served, SEED_STORAGE, batch_size=20)
        with load:
            until(lambda: len(load.issued) >= 20, "the load issued nothing")
            full["on"] = True
            until(lambda: sum(f.code == "STORAGE_FULL" for f in load.failures) >= 5, "the disk never filled up")
            full["on"] = False
            acknowledged = len(load.issued)
            until(lambda: len(load.issued) > acknowledged + 20, "issuing never recovered once space was back")
        figures = reconcile(served, load)
        figures.faults = 1
        figures.lost += _half_written(served, load)
        unacknowledged = _stored_numbers(served) - {served.get(d.id).json()["number"] for d in load.issued}
        figures.lost += [f"{n}: stored though its request failed" for n in unacknowledged]
    assert_clean(figures, "sqlite disk full", SEED_STORAGE, allowed_codes={"STORAGE_FULL"})
    assert all(f.status == 507 for f in load.failures), load.failures
