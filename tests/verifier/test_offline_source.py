"""The offline bundle as a ``verifier.Verifier``'s sources (``offline_verifier``): trust list, chain, proofs and status
lists all from the signed bundle, for a verifier that lives longer than one call. (The bundle format and its refusals
are ``test_offline.py``; the command line over it is ``tests/e2e/test_offline_e2e.py``.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from keys.errors import XacthucError
from tests.verifier.test_offline import LATER, NOW, World, city, w  # noqa: F401 - city and w are fixtures
from verifier import Verifier, offline_verifier
from verifier.offline import OfflineBundleError


def test_the_offline_source_is_a_verifier_that_stops_answering_at_expiry(w: World) -> None:  # noqa: F811
    _, link = w.issue()
    w.anchor()
    clock = [LATER]
    verifier = offline_verifier(w.state(), clock=lambda: clock[0])
    assert isinstance(verifier, Verifier)
    report = verifier.verify(link, file=b"decision")
    assert report.verdict.value == "valid", report.to_dict()
    checks = {c.name: c for c in report.checks}
    assert checks["file_matches"].code == "FILE_MATCHES"
    assert checks["not_revoked"].data["offline_bundle"]["block"] == 42  # the answer says it came from the bundle
    clock[0] = NOW + timedelta(days=2)  # past the bundle's expiry: no answer from stale state
    with pytest.raises(OfflineBundleError) as exc:
        verifier.verify(link)
    assert exc.value.code == "OFFLINE_BUNDLE_EXPIRED"


def test_a_payload_that_is_no_document_or_id_is_refused_before_any_source_is_read(w: World) -> None:  # noqa: F811
    verifier = offline_verifier(w.state())
    with pytest.raises(XacthucError) as exc:
        verifier.verify("https://example.org/not-a-verification-link")
    assert exc.value.code == "PAYLOAD_UNRECOGNIZED"
