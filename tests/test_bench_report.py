"""``make bench``'s report carries the OpenAttestation ratio (issue 14): in the JSON and the readable table. Fake
benchmark modules stand in for the real ones, so nothing is measured here."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench.bench_openattestation import parse_lines, summarise

OA_LINES = "\n".join(
    [
        "installing pinned npm packages",
        json.dumps({"bench": "openattestation", "metric": "verify_latency", "n": 300, "docs_per_s": 50.0,
                    "p50_ms": 18.0, "p99_ms": 60.0, "valid": 300, "rpc_calls_per_doc": 11.9}),
        json.dumps({"bench": "openattestation", "metric": "summary", "all_checks_pass": True,
                    "loadavg_at_start": [1.0, 1.0, 1.0], "loadavg_at_end": [1.1, 1.0, 1.0]}),
    ]
)  # fmt: skip


def _fake(monkeypatch: pytest.MonkeyPatch, name: str, result: dict[str, object]) -> None:
    module = types.ModuleType(f"bench.bench_{name}")
    module.run = lambda: json.loads(json.dumps(result))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"bench.bench_{name}", module)


def test_the_harness_lines_give_the_sequential_figure() -> None:
    figures = summarise(parse_lines(OA_LINES))
    assert figures["verify_sequential"]["docs_per_s"] == 50.0
    assert figures["all_checks_pass"] is True


def test_bench_json_and_table_include_the_openattestation_ratio(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake(monkeypatch, "openattestation", summarise(parse_lines(OA_LINES)))
    _fake(
        monkeypatch,
        "verify_http",
        {
            "indexed": {
                "docs_per_s": 900,
                "sequential": {"docs_per_s": 450},
                "sequential_native": {"verifications_per_s": 600},
                "in_process": {"docs_per_s": 3000},
            }
        },
    )
    assert bench_main.main(["openattestation", "verify_http"], outdir=tmp_path) == 0
    saved = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    ratios = saved["ratios"]
    assert ratios["verify_http_sequential_vs_openattestation"] == 9.0
    assert ratios["verify_http_sequential_native_vs_openattestation"] == 12.0
    assert ratios["verify_in_process_vs_openattestation"] == 60.0
    assert ratios["target_verify_http_sequential_vs_openattestation"] == bench_main.TARGET_OA_RATIO
    assert len(ratios["load_avg"]) == 3
    table = capsys.readouterr().out
    assert re.search(r"^ratios\.verify_http_sequential_vs_openattestation +9\.0$", table, re.M)
    assert "ratios.openattestation_verify_per_s" in table


def test_no_ratio_without_the_peer() -> None:
    assert bench_main.ratios({"verify_http": {"indexed": {"sequential": {"docs_per_s": 450}}}}) == {}
