"""``make bench``: runs every benchmark module, writes JSON to bench/results/ and prints a readable table.

Each ``bench/bench_*.py`` module exposes ``run() -> dict``. ``python -m bench chain anchoring`` runs a subset;
``python -m bench faults`` runs the long fault run (``bench/faults.py``), which the default list leaves out.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODULES = [
    "keys",
    "chain",
    "anchoring",
    "documents",
    "side_by_side",
    "verify_http",
    "verify_concurrent",
    "identity",
    "pages",
    "pdf",
    "metrics",
]

#: Only when named (``python -m bench faults openattestation``): the long fault run, and one pass of the
#: OpenAttestation harness alone (``side_by_side`` runs it in turns with ours, which is what the ratios come from).
ON_REQUEST = {"faults": "bench.faults", "openattestation": "bench.bench_openattestation"}

#: Issue 14's target: sequential verification through HTTP at least this many times OpenAttestation's, same run.
TARGET_OA_RATIO = 8.0


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Ours against OpenAttestation's sequential verification, from one run's results (empty when either is
    missing): our one-client keep-alive ``POST /v1/verify`` (``http.client``, and ``wrk`` with one connection when
    it ran) and our in-process verifier, each over ``oa-verify``. From ``side_by_side`` when it ran (the median of
    its paired rounds), else from one pass of ``openattestation`` and one of ``verify_http``."""
    paired = results.get("side_by_side", {})
    if "median_sequential_vs_openattestation" in paired:
        out: dict[str, Any] = {
            "openattestation_verify_per_s": paired["median_openattestation_per_s"],
            "verify_http_sequential_per_s": paired["median_sequential_per_s"],
            "verify_http_sequential_vs_openattestation": paired["median_sequential_vs_openattestation"],
            "target_verify_http_sequential_vs_openattestation": TARGET_OA_RATIO,
            "verify_http_sequential_vs_openattestation_rounds": [
                r["sequential_vs_openattestation"] for r in paired["rounds"]
            ],
        }
        if "median_native_vs_openattestation" in paired:
            out["verify_http_sequential_native_per_s"] = paired["median_native_per_s"]
            out["verify_http_sequential_native_vs_openattestation"] = paired["median_native_vs_openattestation"]
        out["verify_in_process_vs_openattestation"] = paired["median_in_process_vs_openattestation"]
        out["method"] = f"median of {len(paired['rounds'])} paired rounds (side_by_side)"
        return out
    try:
        oa = float(results["openattestation"]["verify_sequential"]["docs_per_s"])
        ours = results["verify_http"]["indexed"]
    except (KeyError, TypeError, ValueError):
        return {}
    out = {"openattestation_verify_per_s": oa}
    sequential = ours.get("sequential", {}).get("docs_per_s")
    if sequential is not None and oa > 0:
        out["verify_http_sequential_per_s"] = sequential
        out["verify_http_sequential_vs_openattestation"] = round(sequential / oa, 2)
        out["target_verify_http_sequential_vs_openattestation"] = TARGET_OA_RATIO
    native = ours.get("sequential_native", {}).get("verifications_per_s")
    if native is not None and oa > 0:
        out["verify_http_sequential_native_per_s"] = native
        out["verify_http_sequential_native_vs_openattestation"] = round(native / oa, 2)
    in_process = ours.get("in_process", {}).get("docs_per_s")
    if in_process is not None and oa > 0:
        out["verify_in_process_vs_openattestation"] = round(in_process / oa, 2)
    out["method"] = "one pass each (openattestation, verify_http)"
    return out


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value, 1):  # rounds: one row a figure, numbered from 1
            _flatten(f"{prefix}.{i}", v, out)
    else:
        out.append((prefix, value))


def main(argv: list[str], outdir: Path | None = None) -> int:
    wanted = argv or MODULES
    results: dict[str, Any] = {
        "env": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
        }
    }
    failed = []
    for name in wanted:
        print(f"== bench {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(ON_REQUEST.get(name, f"bench.bench_{name}"))
            results[name] = module.run()
        except Exception as exc:  # a broken benchmark is reported, the others still run
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        results[name]["wall_seconds"] = round(time.perf_counter() - start, 2)
    if found := ratios(results):
        results["ratios"] = {**found, "load_avg": [round(x, 2) for x in os.getloadavg()]}
    outdir = outdir or Path(__file__).with_name("results")
    outdir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = outdir / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (outdir / "latest.json").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    rows: list[tuple[str, Any]] = []
    _flatten("", results, rows)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for key, value in results.get("ratios", {}).items():
        print(f"ratio  {key}: {value}")
    print(f"\nresults: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
