"""Faults: the process kills of ``tests/faults/test_kills.py`` for more rounds (issue 15).

``python -m bench faults`` (or ``python -m bench.faults --rounds 10 --seed 7``) runs the same harness as the test
(``tests.faults.harness.run``): a private PostgreSQL cluster, anvil on a state file, two API processes, a leading and
a standby worker, a steady load of issuing, revoking and verifying, and in each round the node, the PostgreSQL
server, an API and the leading worker SIGKILLed in turn at seeded moments and restarted. It prints and returns the
figures the issue asks for: faults injected, documents acknowledged, lost (must be 0), wrong verdicts (must be 0),
and the answers given while something was down. The seed comes from ``--seed``, else ``FAULT_SEED``, else a fresh
one; it is in the output, so a run can be repeated. Runs for minutes: not part of ``make bench``'s default list.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_ROUNDS = 5


def faults(rounds: int, seed: int) -> dict[str, Any]:
    from tests.faults.harness import run

    load_before = [round(x, 2) for x in os.getloadavg()]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xacthuc-faults-") as tmp:
        figures = run(Path(tmp), seed, rounds)
    problems = figures.problems()
    return {
        "rounds": rounds,
        **figures.summary(),
        "problems": problems[:20],
        "seconds": round(time.perf_counter() - start, 1),
        "load_avg_before": load_before,
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
    }


def run() -> dict[str, Any]:
    """``python -m bench faults``: the figures of ``FAULT_ROUNDS`` (default 5) rounds."""
    raw = os.environ.get("FAULT_SEED")
    return faults(int(os.environ.get("FAULT_ROUNDS", DEFAULT_ROUNDS)), int(raw) if raw else secrets.randbelow(2**31))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    raw = os.environ.get("FAULT_SEED")
    seed = args.seed if args.seed is not None else int(raw) if raw else secrets.randbelow(2**31)
    result = faults(args.rounds, seed)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["documents_lost"] == 0 and result["wrong_verdicts"] == 0 and not result["problems"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
