"""The OpenAttestation peer harness (``../shared/peers/openattestation``) in the same run, for the ratios.

As the harness's README says: the harness is copied to a temporary directory (the shared copy may be read-only) and
``./run.sh`` runs there (``npm ci`` from the pinned lock file when ``node_modules`` is missing, anvil from npm, no
network beyond loopback). Only the sequential ``oa-verify`` figure is needed for the ratio, so the quick settings
are used: ``N`` documents, no extra wrap batches, no concurrent pass. The harness prints JSON lines; the
``verify_latency`` and ``summary`` lines are kept.

The harness is looked for next to the repository (``../shared/peers/openattestation``);
``python -m bench.bench_openattestation DIR`` runs another copy.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "openattestation"


def _progress(msg: str) -> None:
    print(f"  openattestation: {msg}", file=sys.stderr, flush=True)


def parse_lines(text: str) -> dict[str, Any]:
    """The harness's JSON lines by ``metric`` (the first of each; ``error`` lines collected)."""
    found: dict[str, Any] = {}
    errors: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        metric = item.get("metric")
        if metric == "error":
            errors.append(str(item.get("message")))
        elif isinstance(metric, str) and metric not in found:
            found[metric] = item
    if errors:
        found["error"] = errors
    return found


def summarise(found: dict[str, Any]) -> dict[str, Any]:
    """The figures the table and the ratios use, from the parsed lines."""
    latency = found.get("verify_latency")
    if latency is None:
        raise RuntimeError(f"the harness printed no verify_latency line: {found.get('error')}")
    summary = found.get("summary", {})
    return {
        "verify_sequential": {
            "n": latency.get("n"),
            "docs_per_s": latency["docs_per_s"],
            "p50_ms": latency.get("p50_ms"),
            "p99_ms": latency.get("p99_ms"),
            "valid": latency.get("valid"),
            "rpc_calls_per_doc": latency.get("rpc_calls_per_doc"),
        },
        "all_checks_pass": summary.get("all_checks_pass"),
        "load_avg_at_start": summary.get("loadavg_at_start"),
        "load_avg_at_end": summary.get("loadavg_at_end"),
    }


class Harness:
    """The harness copied once into a temporary directory (the shared copy may be read-only), run as often as asked:
    ``npm ci`` runs on the first pass only, later passes reuse its ``node_modules``. Removed on exit."""

    def __init__(self, source: Path = HARNESS) -> None:
        if not (source / "run.sh").exists():
            raise RuntimeError(f"no OpenAttestation harness at {source}")
        self.source = source
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.work = Path()

    def __enter__(self) -> Harness:
        self._tmp = tempfile.TemporaryDirectory(prefix="xacthuc-oa-")
        self.work = Path(self._tmp.name) / "oa"
        shutil.copytree(self.source, self.work, ignore=shutil.ignore_patterns("node_modules", "results", "state"))
        for path in [self.work, *self.work.rglob("*")]:  # the shared copy is read-only; its copy must be writable
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def verify(self, n: int) -> dict[str, Any]:
        """One pass of ``run.sh`` with the quick settings: ``n`` documents issued and verified sequentially."""
        env = {**os.environ, "N": str(n), "WRAP_EXTRA_N": "", "WRAP_REPEAT": "1", "VERIFY_CONCURRENCY": "0"}
        first = not (self.work / "node_modules").exists()
        _progress(f"running the harness in {self.work} (N={n}{'; npm ci first' if first else ''})")
        done = subprocess.run(
            ["./run.sh"], cwd=self.work, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        found = parse_lines(done.stdout)
        if done.returncode != 0 and "verify_latency" not in found:
            raise RuntimeError(f"run.sh exited {done.returncode}: {done.stderr[-1500:]}")
        result = summarise(found)
        result["exit_code"] = done.returncode
        result["settings"] = {"N": n, "WRAP_EXTRA_N": "", "VERIFY_CONCURRENCY": 0, "IDENTITY": "local-dns"}
        return result


def run(n: int = 300, harness: Path = HARNESS) -> dict[str, Any]:
    with Harness(harness) as peer:
        return peer.verify(n)


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else HARNESS
    json.dump(run(harness=where), sys.stdout, indent=2)
    sys.stdout.write("\n")
