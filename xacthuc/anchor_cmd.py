"""``xacthuc anchor`` and ``xacthuc chain status``: the worker driven from the command line (``doc revoke`` waits
through the same loop)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from ledger.chain.anchoring import pending_count, pending_revocations
from ledger.chain.client import redact_rpc_url
from xacthuc.services import Services, build_services
from xacthuc.settings import Settings
from xacthuc.worker import worker_lock


def drive_outbox(
    services: Services,
    left: Callable[[Session], int],
    *,
    wait: bool,
    timeout: float,
    tick: Callable[[int], None] = lambda _: None,
) -> tuple[int, int]:
    """Run worker passes until ``left`` (what is still to do) is 0, or ``timeout`` seconds have passed; when
    another process (``serve``, ``worker``) is the anchoring worker, wait for it instead of competing.

    Returns (transactions confirmed by our own passes, what is left). Without ``wait``, one pass.
    """
    deadline = time.monotonic() + timeout
    confirmed = 0
    with worker_lock(services.engine, services.settings.data_dir) as we_are_worker:
        anchorer = services.anchorer() if we_are_worker else None
        while True:
            busy = False
            if anchorer is not None:
                report = anchorer.step(force=True)
                confirmed += report.confirmed
                busy = report.busy
            with Session(services.engine) as session:
                remaining = left(session)
            tick(remaining)
            if not wait or remaining == 0 or time.monotonic() > deadline:
                return confirmed, remaining
            if not busy:
                time.sleep(0.2)


def run_anchor(settings: Settings, *, wait: bool, timeout: float, progress: bool) -> dict[str, Any]:
    """Anchor what is queued now (and send queued revocations). When ``serve`` already runs the worker, wait."""
    services = build_services(settings)
    try:
        with Session(services.engine) as session:
            total = pending_count(session)
        with Progress(
            TextColumn("anchoring"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} leaves"),
            TimeElapsedColumn(),
            disable=not progress or total == 0,
        ) as bar:
            task = bar.add_task("anchor", total=total)
            leaves = total

            def left(session: Session) -> int:
                nonlocal leaves
                leaves = pending_count(session)
                return leaves + pending_revocations(session)

            confirmed, _ = drive_outbox(
                services,
                left,
                wait=wait,
                timeout=timeout,
                tick=lambda _: bar.update(task, completed=max(total - leaves, 0)),
            )
        with Session(services.engine) as session:
            revocations = pending_revocations(session)
        return {
            "confirmed_batches": confirmed,
            "pending_leaves": leaves,
            "total_leaves": total,
            "pending_revocations": revocations,
        }
    finally:
        services.close()


def chain_status(settings: Settings) -> dict[str, Any]:
    services = build_services(settings)
    try:
        registry = services.registry()
        assert services.chain is not None
        return {
            "rpc_url": redact_rpc_url(services.chain.url),
            "embedded": services.chain.node is not None or not settings.rpc_url,
            "chain_id": registry.chain_id,
            "block": registry.block_number,
            "contract": registry.address,
        }
    finally:
        services.close()
