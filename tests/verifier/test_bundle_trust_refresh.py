"""Where a third-party verifier refreshes a proof bundle's trust list (issue 8 item 5), and what it accepts from there.

The end-to-end run against a live server is ``tests/e2e/test_key_rotation_live.py``."""

from __future__ import annotations

import pytest

from verifier.bundle import bundle_trust_list_url
from verifier.third_party import TrustListUnavailable, http_trust_list
from xacthuc.devchain import free_port


@pytest.mark.parametrize(
    ("root_url", "list_url"),
    [
        ("https://xacthuc.hochiminhcity.gov.vn/v1/trust-root", "https://xacthuc.hochiminhcity.gov.vn/v1/trust-list"),
        ("http://127.0.0.1:8000/v1/trust-root", "http://127.0.0.1:8000/v1/trust-list"),
        ("file:///etc/passwd/v1/trust-root", None),
        ("https://example.org/elsewhere", None),
        (None, None),
    ],
)
def test_trust_list_url_is_the_published_one_beside_the_trust_root(root_url: str | None, list_url: str | None) -> None:
    assert bundle_trust_list_url({"trust": {"trust_root_url": root_url}}) == list_url


def test_an_unreachable_publisher_is_a_typed_error() -> None:
    fetch = http_trust_list(f"http://127.0.0.1:{free_port()}/v1/trust-list", timeout=2)
    with pytest.raises(TrustListUnavailable):
        fetch()
