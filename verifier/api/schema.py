"""The verification report as an OpenAPI schema (ARCHITECTURE.md, "The verification report").

``verifier.report.Report.to_dict`` writes the report; these models describe exactly that JSON, for the docs and for
clients that generate code from them. They validate, they do not serialise: the route sends ``to_dict()`` as it
is, and tests/test_openapi.py checks real reports against these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from verifier.payload import PayloadKind
from verifier.report import Status, Verdict

__all__ = ["ReportAnchor", "ReportCheck", "ReportIssuer", "VerificationReport"]


class ReportCheck(BaseModel):
    """One named check and its outcome."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The check: format, issuer_trusted, signature, anchored, key_binding, ...")
    status: Status
    code: str = Field(description="Stable code of the outcome, e.g. ISSUER_TRUSTED, ROOT_NOT_ON_CHAIN")
    message: str
    data: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None,
        description="Details, only when there are any; `warning` marks a skipped check whose skipping is a risk",
    )


class ReportIssuer(BaseModel):
    """The agency whose key signed, from the trust list."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str


class ReportAnchor(BaseModel):
    """Where and when the document's Merkle root was anchored."""

    model_config = ConfigDict(extra="forbid")

    chain_id: int
    contract: str = Field(description="The registry's address, 0x-prefixed")
    tx: str = Field(description="The anchoring transaction's hash, 0x-prefixed")
    block: int
    time: datetime = Field(description="The block's time, UTC")


class VerificationReport(BaseModel):
    """A verification's outcome: ``valid`` only when every applicable check passed (``pending``: signed, not yet
    anchored). A negative verdict is still a 200 answer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    kind: PayloadKind
    checks: list[ReportCheck] = Field(description="In the order they ran")
    issuer: ReportIssuer | None = Field(description="Known once the signing key is found in the trust list")
    claims: dict[str, Any] = Field(
        description="What was signed (a document's metadata and receipt facts) or disclosed (a citizen ID's chosen "
        "claims); empty unless the signature verified"
    )
    anchor: ReportAnchor | None = Field(description="A document's anchor, once it is on chain")
