"""``xacthuc anchor`` and ``xacthuc chain status``: the worker driven from the command line."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from ledger.anchoring import pending_count
from ledger.chain import redact_rpc_url
from xacthuc.services import build_services
from xacthuc.settings import Settings
from xacthuc.worker import worker_lock


def run_anchor(settings: Settings, *, wait: bool, timeout: float, progress: bool) -> dict[str, Any]:
    """Anchor what is queued now. When ``serve`` already runs the worker, wait for it instead of competing."""
    services = build_services(settings)
    deadline = time.monotonic() + timeout
    confirmed = 0
    try:
        with Session(services.engine) as session:
            total = pending_count(session)
        with (
            worker_lock(services.engine, settings.data_dir) as we_are_worker,
            Progress(
                TextColumn("anchoring"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} leaves"),
                TimeElapsedColumn(),
                disable=not progress or total == 0,
            ) as bar,
        ):
            task = bar.add_task("anchor", total=total)
            anchorer = services.anchorer() if we_are_worker else None
            while True:
                if anchorer is not None:
                    report = anchorer.step(force=True)
                    confirmed += report.confirmed
                with Session(services.engine) as session:
                    left = pending_count(session)
                bar.update(task, completed=max(total - left, 0))
                if not wait or left == 0 or time.monotonic() > deadline:
                    break
                if anchorer is None or not report.busy:
                    time.sleep(0.2)
        return {"confirmed_batches": confirmed, "pending_leaves": left, "total_leaves": total}
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
