"""The wallet's answer (``response_mode=direct_post``): parse it, verify it, store the report once.

The presentation goes through the same credential pipeline as ``POST /v1/verify`` (injected: the composition root
owns the trust list and status lists), with ``audience`` = the request's client id, its ``nonce`` and key binding
required, then one more named check, ``requested_claims``: the disclosed claims must be exactly the requested ones.
A wrong nonce or audience, an extra or a missing claim is a negative report, stored like a good one: the request is
answered. Only the first answer counts: the state moves from ``pending`` in one conditional UPDATE, so of two
answers racing, one is stored and the other refused ``already answered``, and the stored report never changes.
Errors here are OAuth-shaped (``{"error", "error_description"}``): the wallet is the client, not our API's caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from keys.errors import XacthucError

from ..dispatch import VerifyRequest
from ..payload import MAX_INPUT_CHARS
from ..report import CheckResult, Report, Status, invalid, skipped, valid
from .models import PresentationRequest
from .request_object import CREDENTIAL_QUERY_ID
from .requests import ANSWERED, EXPIRED, PENDING, REFUSED, get_by_handle, state_of

__all__ = [
    "CHECK_NAME",
    "OAuthError",
    "PendingRequest",
    "WalletResponse",
    "open_for_answer",
    "parse_response",
    "record",
    "requested_claims_check",
    "verify_presentation",
]

CHECK_NAME = "requested_claims"
KIND = "citizen_id"


class OAuthError(Exception):
    """An answer in the OAuth shape: ``{"error": error, "error_description": description}`` with ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class WalletResponse:
    """What the wallet posted: one presentation, or an OAuth ``error`` (``access_denied`` when the citizen said no)."""

    state: str | None
    presentation: str | None = None
    error: str | None = None


def parse_response(form: Mapping[str, Any]) -> WalletResponse:
    """The form body of ``POST /oid4vp/responses/{handle}``: ``vp_token`` (JSON ``{"citizen_id": ["<sd-jwt+kb>"]}``)
    and ``state``, or ``error`` (and ``state``)."""
    state = form.get("state")
    if state is not None and not isinstance(state, str):
        raise OAuthError("invalid_request", "state must be text")
    error = form.get("error")
    if error is not None:
        if not isinstance(error, str) or not error or len(error) > 100:
            raise OAuthError("invalid_request", "error must be a short text")
        return WalletResponse(state, error=error)
    raw = form.get("vp_token")
    if not isinstance(raw, str) or not raw:
        raise OAuthError("invalid_request", "vp_token is missing")
    if len(raw) > MAX_INPUT_CHARS + 64:
        raise OAuthError("invalid_request", "vp_token is too large")
    try:
        token = json.loads(raw)
    except ValueError:
        raise OAuthError("invalid_request", "vp_token must be a JSON object (DCQL response)") from None
    if not isinstance(token, dict) or set(token) != {CREDENTIAL_QUERY_ID}:
        raise OAuthError("invalid_request", f'vp_token must answer the one credential query "{CREDENTIAL_QUERY_ID}"')
    value = token[CREDENTIAL_QUERY_ID]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str) or not value:
        raise OAuthError("invalid_request", "vp_token must hold exactly one presentation")
    return WalletResponse(state, presentation=value)


@dataclass(frozen=True)
class PendingRequest:
    """What verifying an answer needs from the request, read before the (slow) verification."""

    handle: str
    nonce: str
    client_id: str
    claims: tuple[str, ...]


def _refusal(row: PresentationRequest | None, now: datetime) -> OAuthError:
    if row is None:
        return OAuthError("invalid_request", "no such presentation request")
    state = state_of(row, now)
    if state == EXPIRED:
        return OAuthError("invalid_request", "the presentation request has expired")
    return OAuthError("invalid_request", "the presentation request was already answered")


def open_for_answer(session: Session, handle: str, response: WalletResponse, now: datetime) -> PendingRequest:
    """The pending request ``handle``; an unknown, expired or answered one (or another ``state``) is refused."""
    row = get_by_handle(session, handle)
    if row is None or state_of(row, now) != PENDING:
        raise _refusal(row, now)
    if response.state is not None and response.state != row.handle:
        raise OAuthError("invalid_request", "state does not match the request")
    return PendingRequest(row.handle, row.nonce, row.client_id, tuple(row.claims))


def requested_claims_check(report: Report, requested: tuple[str, ...]) -> CheckResult:
    """``requested_claims``: the claims disclosed (as the ``disclosures`` check read them) are exactly ``requested``."""
    disclosures = next((c for c in report.checks if c.name == "disclosures"), None)
    if disclosures is None or disclosures.status is not Status.VALID:
        return skipped(CHECK_NAME, "NOT_APPLICABLE", "the disclosures could not be read")
    shown = {str(n) for n in disclosures.data.get("disclosed", [])}
    missing = [c for c in requested if c not in shown]
    extra = sorted(shown - set(requested))
    if extra:
        return invalid(
            CHECK_NAME,
            "UNREQUESTED_CLAIM",
            f"claims that were not requested were disclosed: {', '.join(extra)}",
            extra=extra,
            missing=missing,
        )
    if missing:
        message = f"requested claims are missing: {', '.join(missing)}"
        return invalid(CHECK_NAME, "REQUESTED_CLAIM_MISSING", message, missing=missing)
    message = "exactly the requested claims were disclosed"
    return valid(CHECK_NAME, "REQUESTED_CLAIMS_OK", message, claims=list(requested))


def verify_presentation(
    verify: Callable[[VerifyRequest], Report], pending: PendingRequest, presentation: str
) -> dict[str, Any]:
    """The report for ``presentation`` against ``pending``, as stored and served.

    Claims that were not requested are left out of the stored report (only their names stay, in the
    ``requested_claims`` check): the relying party learns no more than it asked, even from a wallet that over-shares.
    A text the pipeline cannot even start on (no SD-JWT at all) is an ``invalid`` report too, so the relying party's
    page ends with a verdict rather than waiting out the five minutes."""
    try:
        report = verify(VerifyRequest(payload=presentation, audience=pending.client_id, nonce=pending.nonce))
    except XacthucError as exc:
        report = Report(kind=KIND, checks=[invalid("format", exc.code, exc.message)])
    if report.kind != KIND:
        report = Report(kind=KIND, checks=[invalid("format", "PAYLOAD_KIND_MISMATCH", "not a citizen ID presentation")])
    report.checks.append(requested_claims_check(report, pending.claims))
    report.claims = {k: v for k, v in report.claims.items() if k in pending.claims}
    return report.to_dict()


def record(
    session: Session, handle: str, now: datetime, *, report: dict[str, Any] | None, refused: bool = False
) -> None:
    """Store the answer if the request is still pending and unexpired (one conditional UPDATE; the caller commits),
    else refuse it: the first answer stays."""
    table = PresentationRequest
    result = session.exec(
        update(table)
        .where(col(table.handle) == handle, col(table.state) == PENDING, col(table.expires_at) > now)
        .values(state=REFUSED if refused else ANSWERED, report=report, answered_at=now)
    )
    if result.rowcount != 1:
        session.rollback()
        raise _refusal(get_by_handle(session, handle), now)
