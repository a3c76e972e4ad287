"""SIGKILL under load, in turn, the anvil node, the PostgreSQL server, an API process and the leading worker; restart
each; then reconcile (``tests.faults.harness``): no acknowledged document lost, each anchored exactly once, no wrong
verdict during the outages or after.

The moments are seeded: ``FAULT_SEED`` (any integer; a fresh one when unset) and ``FAULT_ROUNDS`` (rounds of the four
kills, default 1) reproduce a run's choices (which API, how far into the load each kill falls, how long each part
stays dead); the seed is printed in the failure message and in the test's report section. The longer run is
``python -m bench faults``.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from tests.faults.harness import FAULTS, log_tails, run

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.postgres, pytest.mark.anvil]


def _seed() -> int:
    raw = os.environ.get("FAULT_SEED")
    return int(raw) if raw else secrets.randbelow(2**31)


@pytest.mark.timeout(600)
def test_no_acknowledged_document_lost_and_no_wrong_verdict_when_processes_are_killed_under_load(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = _seed()
    rounds = int(os.environ.get("FAULT_ROUNDS", "1"))
    reproduce = f"FAULT_SEED={seed} FAULT_ROUNDS={rounds}"
    try:
        figures = run(tmp_path, seed, rounds)
    except BaseException:
        request.node.add_report_section("call", "fault run", f"{reproduce}\n{log_tails(tmp_path)}")
        raise
    summary = figures.summary()
    request.node.add_report_section("call", "fault figures", f"{reproduce}\n{json.dumps(summary, indent=2)}")
    print(f"\n{reproduce}: {json.dumps(summary, ensure_ascii=False)}")
    problems = figures.problems()
    assert not problems, f"{reproduce}: {len(problems)} problems, the first: {problems[:10]}\n{summary}"
    assert [f["kind"] for f in figures.faults] == list(FAULTS) * rounds
    assert summary["documents_acknowledged"] > 0 and summary["revocations_confirmed"] > 0, reproduce
