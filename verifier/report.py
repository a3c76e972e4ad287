"""Verification results as data: named checks, each with a status and a stable code, and one verdict rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from keys.errors import XacthucError


class Status(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    SKIPPED = "skipped"
    ERROR = "error"


class Verdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    EXPIRED = "expired"
    UNTRUSTED = "untrusted"
    PENDING = "pending"
    ERROR = "error"


# Slotted and not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which made
# building the eight results of a verification cost about as much as parsing its JWS. Results are still treated as
# values: nothing assigns to a field, and ``dataclasses.replace`` makes changed copies.
@dataclass(slots=True)
class CheckResult:
    """The outcome of one named check. ``verdict`` says which negative verdict a failure stands for."""

    name: str
    status: Status
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status.value,
            "code": self.code,
            "message": self.message,
        }
        if self.data:
            out["data"] = self.data
        return out


# ``**data`` is already a new dict on every call, so it is stored as it is rather than copied.
def valid(name: str, code: str, message: str, **data: Any) -> CheckResult:
    return CheckResult(name, Status.VALID, code, message, data)


def invalid(name: str, code: str, message: str, verdict: Verdict = Verdict.INVALID, **data: Any) -> CheckResult:
    return CheckResult(name, Status.INVALID, code, message, data, verdict)


def skipped(name: str, code: str, message: str, **data: Any) -> CheckResult:
    """A check that did not run. ``data`` may carry ``warning``: why not running it is a risk the reader must see."""
    return CheckResult(name, Status.SKIPPED, code, message, data)


def errored(name: str, code: str, message: str, **data: Any) -> CheckResult:
    return CheckResult(name, Status.ERROR, code, message, data, Verdict.ERROR)


# Where several checks fail, the verdict names the most serious: a forgery outranks revocation, which outranks
# expiry. ``pending`` (not yet anchored) is the mildest negative: everything else passed.
_PRECEDENCE: tuple[Verdict, ...] = (
    Verdict.INVALID,
    Verdict.UNTRUSTED,
    Verdict.ERROR,
    Verdict.REVOKED,
    Verdict.SUPERSEDED,
    Verdict.EXPIRED,
    Verdict.PENDING,
)


_FAILED = (Status.INVALID, Status.ERROR)


def verdict_of(checks: Sequence[CheckResult]) -> Verdict:
    """The one rule: ``valid`` only when no check failed or errored and at least one check passed.

    A failed check whose ``verdict`` is not a negative one (``None``, or a stray ``valid``) counts as ``invalid``.
    """
    failed = [c.verdict if c.verdict in _PRECEDENCE else Verdict.INVALID for c in checks if c.status in _FAILED]
    if failed:
        return min(failed, key=_PRECEDENCE.index)
    return Verdict.VALID if any(c.status is Status.VALID for c in checks) else Verdict.INVALID


@dataclass
class Report:
    """A verification report (see ARCHITECTURE.md, 'The verification report')."""

    kind: str
    checks: list[CheckResult]
    issuer: dict[str, Any] | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    anchor: dict[str, Any] | None = None

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "kind": self.kind,
            "checks": [c.to_dict() for c in self.checks],
            "issuer": self.issuer,
            "claims": self.claims,
            "anchor": self.anchor,
        }


C = TypeVar("C", contravariant=True)


class Check(Protocol, Generic[C]):
    """One named check over a context ``C``. ``applies`` decides whether it runs; if not, it is reported skipped."""

    name: str

    def applies(self, ctx: C) -> bool: ...

    def verify(self, ctx: C) -> CheckResult: ...


def run_checks(
    checks: Iterable[Check[C]], ctx: C, on_error: Callable[[str, Exception], None] | None = None
) -> list[CheckResult]:
    """Run checks in order. A check that raises becomes an ``error`` result, never a crash and never a pass."""
    results: list[CheckResult] = []
    for check in checks:
        try:
            if not check.applies(ctx):
                results.append(skipped(check.name, "NOT_APPLICABLE", "not applicable"))
                continue
            results.append(check.verify(ctx))
        except XacthucError as exc:
            results.append(errored(check.name, exc.code, exc.message))
        except Exception as exc:
            if on_error is not None:
                on_error(check.name, exc)
            results.append(errored(check.name, "CHECK_FAILED", f"{check.name} could not be completed"))
    return results
