"""Issue 8, item 11: a presentation verified without the verifier's own ``audience`` is replayable, and the report
says so (an ``audience`` check, ``skipped``, with a warning naming the risk) instead of a silent ``valid``."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from identity import service
from identity.presentation import present
from keys.holder_key import P256Key
from tests.identity.conftest import (  # noqa: F401 (fixtures)
    CITIZEN,
    ISSUER,
    NOW,
    STATUS_BASE,
    DictResolver,
    TestSigner,
    issuer_signer,
    resolver,
    session,
)
from verifier.credential import verify_credential
from verifier.report import CheckResult, Report

BANK = "https://bank.example"


@pytest.fixture
def issued(session: Session, issuer_signer: TestSigner) -> tuple[str, P256Key]:  # noqa: F811
    citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    holder = P256Key.generate()
    _, credential = service.issue_credential(
        session, citizen.id, issuer_signer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
    )
    return credential, holder


def _verify(
    session: Session,  # noqa: F811
    signer: TestSigner,
    resolver: DictResolver,  # noqa: F811
    text: str,
    **kw: object,
) -> Report:
    def fetch(uri: str) -> str:
        return service.status_list_token(session, uri.rsplit("/", 1)[1], signer, status_base_url=STATUS_BASE, now=NOW)

    return verify_credential(text, resolver, fetch, NOW, **kw)  # type: ignore[arg-type]


def _audience(report: Report) -> CheckResult:
    [check] = [c for c in report.checks if c.name == "audience"]
    return check


def test_presentation_for_the_bank_verified_without_an_audience_warns_of_replay(
    session: Session,  # noqa: F811
    issuer_signer: TestSigner,  # noqa: F811
    resolver: DictResolver,  # noqa: F811
    issued: tuple[str, P256Key],
) -> None:
    credential, holder = issued
    for_the_bank = present(credential, ["age_over_18"], holder, audience=BANK, now=NOW)
    report = _verify(session, issuer_signer, resolver, for_the_bank)  # e.g. the /v page: no audience sent
    check = _audience(report)
    assert (check.status, check.code) == ("skipped", "AUDIENCE_NOT_CHECKED")
    assert check.data == {"warning": "replay", "aud": BANK}
    assert "replay" in check.message and BANK in check.message
    assert report.to_dict()["checks"][-1]["data"]["warning"] == "replay"
    # Still valid (the presentation is genuine), but never without the warning beside it.
    assert report.verdict == "valid"


def test_presentation_checked_against_the_verifiers_audience_passes_the_audience_check(
    session: Session,  # noqa: F811
    issuer_signer: TestSigner,  # noqa: F811
    resolver: DictResolver,  # noqa: F811
    issued: tuple[str, P256Key],
) -> None:
    credential, holder = issued
    text = present(credential, ["age_over_18"], holder, audience=BANK, now=NOW)
    report = _verify(session, issuer_signer, resolver, text, audience=BANK)
    assert report.verdict == "valid"
    check = _audience(report)
    assert (check.status, check.code, check.data) == ("valid", "AUDIENCE_MATCHED", {"aud": BANK})
    elsewhere = _verify(session, issuer_signer, resolver, text, audience="https://shop.example")
    assert elsewhere.verdict == "invalid"
    assert {c.name: c.code for c in elsewhere.checks}["key_binding"] == "KB_AUDIENCE_MISMATCH"
    assert _audience(elsewhere).code == "NOT_APPLICABLE"


def test_credential_without_key_binding_warns_that_it_names_no_audience(
    session: Session,  # noqa: F811
    issuer_signer: TestSigner,  # noqa: F811
    resolver: DictResolver,  # noqa: F811
) -> None:
    citizen = service.register_citizen(session, CITIZEN, NOW, agency_id=ISSUER)
    _, unbound = service.issue_credential(
        session, citizen.id, issuer_signer, ISSUER, None, NOW, status_base_url=STATUS_BASE
    )
    report = _verify(session, issuer_signer, resolver, unbound, audience=BANK, require_key_binding=False)
    check = _audience(report)
    assert (check.status, check.code, check.data) == ("skipped", "AUDIENCE_NOT_BOUND", {"warning": "replay"})
