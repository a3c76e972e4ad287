"""The verdict rule and the check runner of verifier.report."""

from __future__ import annotations

import dataclasses

import pytest

from verifier.report import (
    CheckResult,
    Status,
    Verdict,
    errored,
    invalid,
    run_checks,
    skipped,
    valid,
    verdict_of,
)


def test_all_passed_is_valid() -> None:
    assert verdict_of([valid("a", "OK", "ok"), skipped("b", "NOT_APPLICABLE", "n/a")]) is Verdict.VALID


@pytest.mark.parametrize("checks", [[], [skipped("a", "NOT_APPLICABLE", "n/a")]], ids=["none", "all-skipped"])
def test_nothing_passed_is_invalid(checks: list[CheckResult]) -> None:
    assert verdict_of(checks) is Verdict.INVALID


def test_most_serious_failure_wins_whatever_the_order() -> None:
    checks = [
        invalid("a", "EXPIRED", "expired", Verdict.EXPIRED),
        valid("b", "OK", "ok"),
        invalid("c", "REVOKED", "revoked", Verdict.REVOKED),
        errored("d", "CHECK_FAILED", "broken"),
    ]
    assert verdict_of(checks) is Verdict.ERROR
    assert verdict_of([*checks, invalid("e", "SIGNATURE_INVALID", "forged")]) is Verdict.INVALID
    assert verdict_of(checks[:3]) is Verdict.REVOKED
    assert verdict_of(checks[::-1][1:]) is Verdict.REVOKED


def test_failed_check_without_a_negative_verdict_counts_as_invalid() -> None:
    no_verdict = CheckResult("a", Status.INVALID, "X", "x")
    stray = CheckResult("b", Status.INVALID, "X", "x", {}, Verdict.VALID)
    for bad in (no_verdict, stray):
        assert verdict_of([valid("ok", "OK", "ok"), bad]) is Verdict.INVALID


def test_results_keep_their_data_and_serialise() -> None:
    r = valid("key_binding", "KEY_BINDING_VALID", "presented by the holder", aud="https://bank.example")
    assert r.to_dict() == {
        "name": "key_binding",
        "status": "valid",
        "code": "KEY_BINDING_VALID",
        "message": "presented by the holder",
        "data": {"aud": "https://bank.example"},
    }
    assert "data" not in valid("a", "OK", "ok").to_dict()
    changed = dataclasses.replace(r, data={**r.data, "extra": 1})
    assert changed.data == {"aud": "https://bank.example", "extra": 1} and r.data == {"aud": "https://bank.example"}


class _Raises:
    name = "boom"

    def applies(self, ctx: object) -> bool:
        return True

    def verify(self, ctx: object) -> CheckResult:
        raise RuntimeError("bug")


class _NotApplicable:
    name = "later"

    def applies(self, ctx: object) -> bool:
        return False

    def verify(self, ctx: object) -> CheckResult:
        raise AssertionError("never runs")


def test_a_raising_check_is_an_error_never_a_crash_or_a_pass() -> None:
    seen: list[str] = []
    results = run_checks([_Raises(), _NotApplicable()], None, lambda name, exc: seen.append(name))
    assert [(r.name, r.status, r.code) for r in results] == [
        ("boom", Status.ERROR, "CHECK_FAILED"),
        ("later", Status.SKIPPED, "NOT_APPLICABLE"),
    ]
    assert seen == ["boom"] and verdict_of(results) is Verdict.ERROR
