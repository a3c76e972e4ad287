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
from bench.bench_side_by_side import round_figures, summarise_rounds

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


def _round(oa: float, sequential: int, native: int, in_process: int) -> dict[str, object]:
    peer = {"verify_sequential": {"docs_per_s": oa}}
    ours = {
        "sequential": {"docs_per_s": sequential, "server_cpu_ms_per_request": 0.8},
        "sequential_native": {"verifications_per_s": native},
    }
    return round_figures(peer, ours, {"docs_per_s": in_process})


def test_each_round_sets_its_own_figures_side_by_side() -> None:
    row = _round(100.0, 900, 1200, 2500)
    assert row["sequential_vs_openattestation"] == 9.0
    assert row["native_vs_openattestation"] == 12.0
    assert row["in_process_vs_openattestation"] == 25.0
    without_wrk = round_figures({"verify_sequential": {"docs_per_s": 100.0}}, {"sequential": {"docs_per_s": 900}},
                                {"docs_per_s": 2500})  # fmt: skip
    assert "native_vs_openattestation" not in without_wrk


def test_the_headline_is_the_median_of_the_rounds_ratios_not_a_ratio_of_medians() -> None:
    # Round by round 6.0x, 10.0x and 9.0x: the median ratio is 9.0x. The medians of the rates (100/s and 900/s)
    # would give 9.0x here too, so the third round is built to tell them apart: 50/s and 450/s -> median rates
    # 100/s and 600/s (6.0x), median ratio 9.0x.
    rounds = [_round(100.0, 600, 700, 2000), _round(120.0, 1200, 1500, 3000), _round(50.0, 450, 600, 1500)]
    summary = summarise_rounds(rounds)
    assert summary["median_sequential_vs_openattestation"] == 9.0
    assert summary["median_openattestation_per_s"] == 100.0
    assert summary["median_sequential_per_s"] == 600
    assert summary["sequential_vs_openattestation_range"] == [6.0, 10.0]
    assert summary["rounds"] == rounds


def test_the_ratios_come_from_the_paired_rounds_when_they_ran(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rounds = [_round(100.0, 600, 700, 2000), _round(120.0, 1200, 1500, 3000), _round(50.0, 450, 600, 1500)]
    _fake(monkeypatch, "side_by_side", summarise_rounds(rounds))
    _fake(monkeypatch, "verify_http", {"indexed": {"sequential": {"docs_per_s": 300}}})  # one pass: not used
    assert bench_main.main(["side_by_side", "verify_http"], outdir=tmp_path) == 0
    ratios = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))["ratios"]
    assert ratios["verify_http_sequential_vs_openattestation"] == 9.0
    assert ratios["verify_http_sequential_vs_openattestation_rounds"] == [6.0, 10.0, 9.0]
    assert ratios["verify_http_sequential_native_vs_openattestation"] == 12.0  # 7.0, 12.5 and 12.0
    assert ratios["verify_in_process_vs_openattestation"] == 25.0
    assert ratios["method"].startswith("median of 3 paired rounds")
    table = capsys.readouterr().out
    # Each round is a numbered row of its own in the table, not one long list.
    assert re.search(r"^side_by_side\.rounds\.2\.sequential_vs_openattestation +10\.0$", table, re.M)
    assert re.search(r"^ratios\.verify_http_sequential_vs_openattestation +9\.0$", table, re.M)
