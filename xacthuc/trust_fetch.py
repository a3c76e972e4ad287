"""Fetching a published trust list over HTTP, for a verifier that is not the server (``xacthuc verify``).

What comes back is only bytes to the caller: ``keys.trust_list.RefreshingTrustList`` verifies it against the pinned
root and refuses one older than what it holds, so the URL needs no trust of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from keys.errors import XacthucError

MAX_BYTES = 1 << 20  # the JWS limit of keys.jws: a larger answer is not a trust list


class TrustListUnavailable(XacthucError):
    """The published trust list could not be fetched."""

    code = "TRUST_LIST_UNAVAILABLE"
    http_status = 503


def http_trust_list(url: str, *, timeout: float = 10.0) -> Callable[[], str]:
    """``fetch()`` for ``RefreshingTrustList``: GET ``url`` past any HTTP cache (``Cache-Control: no-cache``), since
    it is asked exactly when a cached list proved too old."""

    def fetch() -> str:
        headers = {"Accept": "application/jwt", "Cache-Control": "no-cache"}
        try:
            with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False) as response:
                if response.status_code != 200:
                    raise TrustListUnavailable(f"the trust list at {url} answered HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise TrustListUnavailable(f"the answer of {url} is too large for a trust list")
        except httpx.HTTPError as exc:
            raise TrustListUnavailable(f"the trust list at {url} could not be fetched ({type(exc).__name__})") from None
        try:
            return body.decode("ascii").strip()
        except UnicodeDecodeError:
            raise TrustListUnavailable(f"the answer of {url} is not a trust list") from None

    return fetch
