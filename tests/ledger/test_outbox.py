"""The outbox: durable leaves, batch cutting by size and age, per-leaf proofs (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ledger.chain.anchoring import oldest_pending_leaf
from ledger.chain.merkle import compute_root
from ledger.chain.outbox import (
    AnchorBatch,
    AnchorLeaf,
    BatchState,
    cut_batches,
    enqueue,
    enqueue_many,
    leaf_proof,
    waiting_leaves,
)
from ledger.errors import LedgerError

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ACCOUNT = "0x" + "11" * 20
OTHER = "0x" + "22" * 20


def leaf(i: int) -> bytes:
    return hashlib.sha256(f"leaf-{i}".encode()).digest()


def test_leaf_is_durable_once_committed(engine: Engine) -> None:
    with Session(engine) as s:
        enqueue(s, ACCOUNT, leaf(1), T0)
        s.commit()
    with Session(engine) as s:
        rows = s.exec(select(AnchorLeaf)).all()
    assert [(r.account, r.data, r.batch_id) for r in rows] == [(ACCOUNT, leaf(1), None)]
    assert rows[0].created_at == T0


def test_same_leaf_twice_is_refused(engine: Engine) -> None:
    with Session(engine) as s:
        enqueue(s, ACCOUNT, leaf(1), T0)
        s.commit()
        enqueue(s, ACCOUNT, leaf(1), T0)
        with pytest.raises(IntegrityError):
            s.commit()


def test_a_bulk_enqueue_repeating_a_leaf_is_refused_whole(engine: Engine) -> None:
    # COPY on PostgreSQL, executemany on SQLite: the unique index refuses it as SQLAlchemy's IntegrityError either way.
    with Session(engine) as s:
        enqueue(s, ACCOUNT, leaf(1), T0)
        s.commit()
        with pytest.raises(IntegrityError):
            enqueue_many(s, ACCOUNT, [leaf(2), leaf(1), leaf(3)], T0)
        s.rollback()
        assert [r.data for r in s.exec(select(AnchorLeaf)).all()] == [leaf(1)]
        assert enqueue_many(s, ACCOUNT, [leaf(2), leaf(3)], T0 + timedelta(seconds=1)) == 2
        s.commit()
        rows = s.exec(select(AnchorLeaf).order_by(AnchorLeaf.id)).all()  # type: ignore[arg-type]
    assert [(r.data, r.created_at) for r in rows] == [
        (leaf(1), T0),
        *((leaf(i), T0 + timedelta(seconds=1)) for i in (2, 3)),
    ]


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_leaf_must_be_32_bytes(engine: Engine, bad: bytes) -> None:
    with Session(engine) as s, pytest.raises(LedgerError):
        enqueue(s, ACCOUNT, bad, T0)


def test_young_leaves_wait_for_the_interval(engine: Engine) -> None:
    with Session(engine) as s:
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(5)], T0)
        s.commit()
        assert cut_batches(s, T0 + timedelta(seconds=1), batch_max=10, interval=timedelta(seconds=2)) == []
        batches = cut_batches(s, T0 + timedelta(seconds=2), batch_max=10, interval=timedelta(seconds=2))
    assert [b.count for b in batches] == [5]


def test_a_full_batch_is_cut_at_once_and_the_rest_waits(engine: Engine) -> None:
    with Session(engine) as s:
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(25)], T0)
        s.commit()
        batches = cut_batches(s, T0, batch_max=10, interval=timedelta(seconds=2))
        assert [b.count for b in batches] == [10, 10]
        waiting = s.exec(select(AnchorLeaf).where(AnchorLeaf.batch_id == None)).all()  # noqa: E711
        assert len(waiting) == 5
        forced = cut_batches(s, T0, batch_max=10, interval=timedelta(seconds=2), force=True)
        assert [b.count for b in forced] == [5]


def test_a_pass_cuts_each_leaf_once_and_a_leaf_committed_late_goes_in_the_next(engine: Engine) -> None:
    # Within a pass each batch's scan starts after the last leaf of the one before (see _cut_one): a leaf whose id
    # was taken earlier but committed only now (here: 11, inserted afterwards) is cut by the next pass, not lost.
    with Session(engine) as s:
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(1, 22)], T0)
        s.commit()
        late = s.exec(select(AnchorLeaf).where(AnchorLeaf.id == 11)).one()
        s.delete(late)
        s.commit()
        first = cut_batches(s, T0, batch_max=10, interval=timedelta(0), force=True)
        s.add(AnchorLeaf(id=11, account=ACCOUNT, data=leaf(11), created_at=T0))
        s.commit()
        second = cut_batches(s, T0, batch_max=10, interval=timedelta(0), force=True)
        members = {
            b.id: [r.id for r in s.exec(select(AnchorLeaf).where(AnchorLeaf.batch_id == b.id).order_by(AnchorLeaf.id))]  # type: ignore[arg-type]
            for b in (*first, *second)
        }
    assert [members[b.id] for b in first] == [list(range(1, 11)), list(range(12, 22))]
    assert [members[b.id] for b in second] == [[11]]


def test_the_worker_reads_waiting_leaves_in_index_order_without_sorting(engine: Engine) -> None:
    # ix_ledger_leaf_waiting (account, id) WHERE batch_id IS NULL: read in order and stopped at the limit. Over
    # (account, batch_id, id) PostgreSQL read every waiting leaf and sorted them, for each batch (migration 0019).
    with Session(engine) as s:
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(50)], T0)
        s.commit()
        conn = s.connection()
        sql = str(waiting_leaves(ACCOUNT, 7, 10).compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # the plan a large table gets
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "ix_ledger_leaf_waiting" in plan and "Sort" not in plan, plan
        else:
            plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "ix_ledger_leaf_waiting" in plan and "TEMP B-TREE" not in plan, plan
        assert [r[0] for r in s.exec(waiting_leaves(ACCOUNT, 7, 10))] == list(range(8, 18))


def test_the_anchoring_lag_counts_waiting_leaves_and_open_batches_only(engine: Engine) -> None:
    with Session(engine) as s:
        assert oldest_pending_leaf(s) is None
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(3)], T0)
        enqueue_many(s, OTHER, [leaf(10 + i) for i in range(3)], T0 + timedelta(minutes=1))
        s.commit()
        (batch,) = cut_batches(s, T0 + timedelta(seconds=30), batch_max=10, interval=timedelta(seconds=30))
        enqueue_many(s, ACCOUNT, [leaf(20)], T0 + timedelta(minutes=2))
        s.commit()
        assert oldest_pending_leaf(s) == T0  # the built batch is not confirmed yet
        row = s.get(AnchorBatch, batch.id)
        assert row is not None
        row.state = BatchState.CONFIRMED
        s.add(row)
        s.commit()
        assert oldest_pending_leaf(s) == T0 + timedelta(minutes=1)  # OTHER's, still waiting
        cut_batches(s, T0, batch_max=10, interval=timedelta(0), force=True)
        assert oldest_pending_leaf(s) == T0 + timedelta(minutes=1)  # now in a built batch


def test_batches_are_per_account(engine: Engine) -> None:
    with Session(engine) as s:
        enqueue_many(s, ACCOUNT, [leaf(i) for i in range(3)], T0)
        enqueue_many(s, OTHER, [leaf(100 + i) for i in range(2)], T0)
        s.commit()
        batches = cut_batches(s, T0, batch_max=10, interval=timedelta(0), force=True)
    assert sorted((b.account, b.count) for b in batches) == [(ACCOUNT, 3), (OTHER, 2)]


def test_every_leaf_gets_a_path_to_its_batch_root(engine: Engine) -> None:
    data = [leaf(i) for i in range(13)]
    with Session(engine) as s:
        assert leaf_proof(s, data[0]) is None  # waiting: no batch yet
        enqueue_many(s, ACCOUNT, data, T0)
        s.commit()
        cut_batches(s, T0, batch_max=100, interval=timedelta(0), force=True)
    with Session(engine) as s:
        (batch,) = s.exec(select(AnchorBatch)).all()
        proofs = [leaf_proof(s, d) for d in data]
    assert sorted(p.index for p in proofs if p is not None) == list(range(13))
    for d, p in zip(data, proofs, strict=True):
        assert p is not None and p.batch.id == batch.id
        assert compute_root(d, p.path) == batch.root
