"""Ours and OpenAttestation side by side, in turns: the ratios ``make bench`` reports (issue 14).

One ``xacthuc serve`` (as in ``bench_verify_http``: SQLite, embedded anvil, worker and chain index) and one copy of
the OpenAttestation harness (``bench_openattestation.Harness``) stay up for the whole module. Each of ``rounds``
rounds runs one ``oa-verify`` pass (``n_oa`` documents, sequential) and our passes: one ``http.client`` keep-alive
client for ``n_verify`` requests, ``wrk`` with one connection when installed, and the server's verifier in process.
The two sides take turns at going first, so a drift of the machine's speed during a round falls on each side
alike. Each round's ratio sets figures measured seconds apart; the headline is the median of the rounds' ratios,
with every round in the JSON.

Why rounds: this machine's speed moves by 20-40 % from one minute to the next (a neighbour's load, not ours), and
not by the same factor for a Node process waiting on anvil and a Python server. One pass of each, a minute apart,
gave ratios of 6.4-10.1x in three fresh-clone runs of one evening; the median of paired rounds is the figure that
describes the code rather than the minute.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.bench_openattestation import Harness
from bench.bench_verify_http import (
    Server,
    issue_and_anchor,
    measure_in_process,
    measure_sequential,
    sequential_passes,
    wait_for_source,
)


def _progress(msg: str) -> None:
    print(f"  side_by_side: {msg}", file=sys.stderr, flush=True)


def round_figures(peer: dict[str, Any], ours: dict[str, Any], in_process: dict[str, Any]) -> dict[str, Any]:
    """One round's rates and ratios from the harness's summary, ``sequential_passes`` and ``measure_in_process``."""
    oa = float(peer["verify_sequential"]["docs_per_s"])
    row: dict[str, Any] = {
        "openattestation_per_s": oa,
        "sequential_per_s": ours["sequential"]["docs_per_s"],
        "sequential_server_cpu_ms": ours["sequential"].get("server_cpu_ms_per_request"),
        "in_process_per_s": in_process["docs_per_s"],
    }
    if "sequential_native" in ours:
        row["native_per_s"] = ours["sequential_native"]["verifications_per_s"]
    for name in ("sequential", "native", "in_process"):
        if f"{name}_per_s" in row and oa > 0:
            row[f"{name}_vs_openattestation"] = round(row[f"{name}_per_s"] / oa, 2)
    return row


def summarise_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds (each ratio is the median of the rounds' own ratios, not a ratio of medians), the
    span of the headline ratio, and the rounds themselves."""
    out: dict[str, Any] = {"rounds": rounds}
    keys = [k for k in rounds[0] if k.endswith(("_per_s", "_vs_openattestation"))]
    for key in keys:
        values = [r[key] for r in rounds if r.get(key) is not None]
        if values:
            out[f"median_{key}"] = round(statistics.median(values), 2)
    spread = [r["sequential_vs_openattestation"] for r in rounds if "sequential_vs_openattestation" in r]
    if spread:
        out["sequential_vs_openattestation_range"] = [min(spread), max(spread)]
    return out


def run(rounds: int = 3, n_oa: int = 300, n_docs: int = 200, n_verify: int = 3000) -> dict[str, Any]:
    with Harness() as peer, tempfile.TemporaryDirectory(prefix="xacthuc-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        with Server(data_dir, {}) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            _progress(f"issuing and anchoring {n_docs} documents ({server.url})")
            links = issue_and_anchor(server, client, n_docs)
            wait_for_source(client, links[-1])
            measure_sequential(server.port, links, 300)  # warm up
            peer.verify(20)  # npm ci and a first pass, untimed
            rows = []
            for k in range(rounds):
                _progress(f"round {k + 1} of {rounds} ({'OpenAttestation' if k % 2 == 0 else 'ours'} first)")
                if k % 2 == 0:
                    oa = peer.verify(n_oa)
                    ours = sequential_passes(server, links, n_verify, native_seconds=3.0)
                    inproc = measure_in_process(data_dir, links, n_verify)
                else:
                    ours = sequential_passes(server, links, n_verify, native_seconds=3.0)
                    inproc = measure_in_process(data_dir, links, n_verify)
                    oa = peer.verify(n_oa)
                verdicts = [ours["sequential"]["verdicts"], inproc["verdicts"]]
                if verdicts != [{"valid": n_verify}] * 2 or oa["verify_sequential"]["valid"] != n_oa:
                    raise RuntimeError(f"round {k + 1}: not every verification was valid: {verdicts}, {oa}")
                rows.append(round_figures(oa, ours, inproc))
    result = summarise_rounds(rows)
    result["settings"] = {"rounds": rounds, "openattestation_n": n_oa, "ours_n": n_verify, "wrk_seconds": 3.0}
    return result


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
