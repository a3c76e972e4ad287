"""The one place the holder talks HTTP: every call goes through the caller's ``httpx.Client``, and every failure
becomes the typed error of the party that failed (the issuer's or the verifier's)."""

from __future__ import annotations

from typing import Any

import httpx

from identity.errors import WalletError
from keys.limits import WALLET_RESPONSE_BYTES

MAX_BODY = WALLET_RESPONSE_BYTES


def send(
    client: httpx.Client, error: type[WalletError], who: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """``client.request``; a connection failure or an oversized answer is ``error``."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise error(f"could not reach the {who} at {url}: {type(exc).__name__}") from None
    if len(response.content) > MAX_BODY:
        raise error(f"the {who} answered more than {MAX_BODY} bytes")
    return response


def json_object(response: httpx.Response, error: type[WalletError], who: str) -> dict[str, Any]:
    """The answer's JSON object, else ``error``."""
    try:
        value = response.json()
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise error(f"the {who} answered HTTP {response.status_code} without a JSON object")
    return value


def oauth_error(body: dict[str, Any]) -> tuple[str, str]:
    """``error`` and ``error_description`` of an OAuth-style error answer (empty strings when absent)."""
    code, description = body.get("error"), body.get("error_description")
    return (code if isinstance(code, str) else "", description if isinstance(description, str) else "")
