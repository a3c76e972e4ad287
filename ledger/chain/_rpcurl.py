"""Redaction of JSON-RPC URLs for display (``xacthuc chain status``): no credentials in logs or output."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["redact_rpc_url"]


def redact_rpc_url(url: str) -> str:
    """The RPC URL with credentials hidden: user:password, query values, and key-like path segments."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    _userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"***@{host}" if at else host
    path = "/".join(_redact_segment(segment) for segment in parts.path.split("/"))
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***" if "=" in pair else "***" for pair in parts.query.split("&") if pair
    )
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, ""))


def _redact_segment(segment: str) -> str:
    # API keys in paths (Infura /v3/<32 hex>, Alchemy /v2/<key>, QuickNode /<token>/) are long and mix letters
    # and digits; ordinary path words (rpc, v3, ext, bc) are not.
    long_token = len(segment) >= 16 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)
    return "***" if long_token else segment
