"""How the portal writes times and what an answer noticed: times in Vietnam's time (UTC+7), said as such, as the
public verifier's card shows them; an issuing answer's notices carried across the redirect to the document page."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from ledger.documents.issuing import VN_TZ
from ledger.documents.metadata import Notice

__all__ = ["NOTICE_COOKIE", "pack_notices", "unpack_notices", "vn_time"]

NOTICE_COOKIE = "xacthuc_notices"


def vn_time(value: datetime | None) -> str:
    """``20/11/2026 14:05:09 (UTC+7)``: a stored time (naive means UTC) in Vietnam's time, as ``/v`` shows it."""
    if value is None:
        return ""
    local = (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(VN_TZ)
    return local.strftime("%d/%m/%Y %H:%M:%S (UTC+7)")


def pack_notices(document_id: str, notices: list[Notice]) -> str:
    """The notices of issuing ``document_id``, as a cookie value (read once, by that document's page)."""
    body = {"doc": document_id, "notices": [{"code": n.code, "vi": n.vi, "en": n.en} for n in notices]}
    return base64.urlsafe_b64encode(json.dumps(body, ensure_ascii=False).encode()).decode().rstrip("=")


def unpack_notices(value: str | None, document_id: str) -> list[dict[str, Any]]:
    """The notices a cookie carries for ``document_id`` (none for another document, or a value that is not ours)."""
    if not value:
        return []
    try:
        body = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("doc") != document_id or not isinstance(body.get("notices"), list):
        return []
    return [
        {"code": str(n.get("code", "")), "vi": str(n.get("vi", "")), "en": str(n.get("en", ""))}
        for n in body["notices"][:5]
        if isinstance(n, dict)
    ]
