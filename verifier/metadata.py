"""A document's metadata against the digest its receipt signs: the ``metadata_matches`` check and the claims a report
may show.

A QR code carries only the metadata's digest (docs/qr-payload.md, "Metadata digest"); the title, the issuing body's
wording, the signer and the signing form travel beside it, in a proof bundle or the issuer's own store, where anyone
can change them. So they are shown only after they hash to the signed digest, and a report's ``claims`` hold nothing
else: the receipt's signed facts, the type its signed number names, and the metadata fields that matched.

Where the changed field can be told, the code names it (``METADATA_TITLE_MISMATCH``): the number and date against the
receipt, which signs them too, and every field against the issuer's stored copy once that copy has matched the
digest. Otherwise the digest alone cannot say which field changed (``METADATA_DIGEST_MISMATCH``).
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.documents.errors import DocumentFieldInvalid
from ledger.documents.metadata import DOCUMENT_FIELDS, metadata_digest, parse_number
from ledger.documents.receipt import Receipt

from .report import CheckResult, invalid, skipped, valid

__all__ = ["MetadataLookup", "MetadataMatchesCheck", "document_claims", "match_metadata", "mismatch_code"]

CHECK = "metadata_matches"
MetadataLookup = Callable[[bytes], Mapping[str, Any] | None]
"""The issuer's stored metadata of the document whose commitment (leaf data) is given, or None."""

_OPTIONAL = frozenset({"signing_form"})  # absent is signed as the empty string
_LABELS = {
    "number": "the number",
    "title": "the title",
    "issuing_body": "the issuing body",
    "place": "the place",
    "issued_on": "the date",
    "signer_name": "the signer's name",
    "signer_title": "the signer's title",
    "signing_form": "the signing form",
}
# The claims a verified metadata adds, in reading order (number and issued_on come from the receipt).
_SHOWN = ("title", "issuing_body", "place", "signing_form", "signer_title", "signer_name")


def mismatch_code(field: str) -> str:
    """The stable code of a metadata field that differs from what was signed: ``METADATA_TITLE_MISMATCH``."""
    return f"METADATA_{field.upper()}_MISMATCH"


@dataclass(frozen=True)
class _Problem:
    """Why one copy of the metadata is not the signed one: the fields known to differ (empty: only the digest)."""

    fields: tuple[str, ...]
    unknown: str | None = None  # a member that is no document field at all


def _canonical(fields: Mapping[str, Any]) -> dict[str, str | None] | _Problem:
    """The eight fields as the digest hashes them (NFC), or the fields that cannot be signed values."""
    unknown = sorted(str(k) for k in fields if k not in DOCUMENT_FIELDS)
    if unknown:
        return _Problem((), unknown=unknown[0])
    values: dict[str, str | None] = {}
    bad: list[str] = []
    for name in DOCUMENT_FIELDS:
        value = fields.get(name)
        if value is None and name in _OPTIONAL:
            values[name] = None
        elif not isinstance(value, str) or (not value and name not in _OPTIONAL):
            bad.append(name)
        else:
            values[name] = unicodedata.normalize("NFC", value) or None
    return _Problem(tuple(bad)) if bad else values


def _against(
    receipt: Receipt, fields: Mapping[str, Any], reference: Mapping[str, str | None] | None
) -> dict[str, str | None] | _Problem:
    """``fields`` if they are the signed metadata, else what is known about the difference."""
    values = _canonical(fields)
    if isinstance(values, _Problem):
        return values
    # The receipt signs the number and the date beside the digest: a difference there is named even alone.
    differs = [
        n
        for n, signed in (("number", receipt.number), ("issued_on", receipt.issued_on.isoformat()))
        if values[n] != signed
    ]
    if hmac.compare_digest(metadata_digest(values), receipt.metadata_digest) and not differs:
        return values
    if reference is not None:
        differs = [n for n in DOCUMENT_FIELDS if values[n] != reference[n]]
    return _Problem(tuple(differs))


def _refusal(problem: _Problem, whose: str) -> CheckResult:
    if problem.unknown is not None:
        return invalid(
            CHECK,
            "METADATA_FIELD_UNKNOWN",
            f"{whose} metadata has a member {problem.unknown!r} that is no signed document field",
            field=problem.unknown,
        )
    if not problem.fields:
        return invalid(
            CHECK,
            "METADATA_DIGEST_MISMATCH",
            f"{whose} metadata does not match the signed metadata digest: its title, issuing body, place, signer or"
            " signing form was altered (the digest cannot tell which)",
        )
    named = ", ".join(_LABELS[f] for f in problem.fields)
    return invalid(
        CHECK,
        mismatch_code(problem.fields[0]),
        f"{whose} metadata differs from what the issuer signed: {named}",
        fields=list(problem.fields),
    )


def match_metadata(
    receipt: Receipt, *, presented: Mapping[str, Any] | None, stored: Mapping[str, Any] | None
) -> tuple[CheckResult, dict[str, str | None] | None]:
    """Check the issuer's ``stored`` metadata and the ``presented`` one (a proof bundle's) against the receipt's
    signed digest; return the check's result and the verified fields (canonical, NFC), or None."""
    if presented is None and stored is None:
        return (
            skipped(
                CHECK,
                "METADATA_UNAVAILABLE",
                "no metadata came with the receipt, whose QR code signs only its digest: the title, issuing body and"
                " signer are not shown (verify the proof bundle, or on the issuing server, to see them)",
            ),
            None,
        )
    verified: dict[str, str | None] | None = None
    sources: list[str] = []
    for whose, source, fields in (("the issuer's stored", "issuer", stored), ("the bundle's", "bundle", presented)):
        if fields is None:
            continue
        outcome = _against(receipt, fields, verified)
        if isinstance(outcome, _Problem):
            return _refusal(outcome, whose), None
        verified = outcome
        sources.append(source)
    return valid(CHECK, "METADATA_MATCHES", "the document's metadata is the signed one", sources=sources), verified


def document_claims(receipt: Receipt, metadata: Mapping[str, str | None] | None) -> dict[str, Any]:
    """What a report shows of a document: the receipt's signed facts, the type its number names and, once matched
    with the digest, the metadata. Nothing else, so nothing shown is outside what was signed."""
    claims: dict[str, Any] = {"number": receipt.number}
    try:
        number = parse_number(receipt.number)
    except DocumentFieldInvalid:
        number = None  # a number issued before today's rules: shown as signed, without a type
    if number is not None:
        if number.type_abbr is not None:
            claims["type"] = number.type_abbr
        claims["type_name"] = number.kind_name
    if metadata is not None:
        claims.update({name: metadata[name] for name in _SHOWN if metadata[name] is not None})
    return {**claims, **receipt.claims()}


class _Context(Protocol):
    """What the check reads and sets of ``verifier.document.DocumentContext`` (named here, not imported: that
    module imports this one)."""

    signature_ok: bool
    receipt: Receipt | None
    metadata: Mapping[str, Any] | None
    metadata_lookup: MetadataLookup | None
    document_metadata: dict[str, str | None] | None

    def leaf(self) -> bytes: ...


class MetadataMatchesCheck:
    """``metadata_matches``: the metadata beside the receipt (a bundle's, the issuer's store) is the signed one."""

    name = CHECK

    def applies(self, ctx: _Context) -> bool:
        return ctx.signature_ok  # the digest means something only once its signature verified

    def verify(self, ctx: _Context) -> CheckResult:
        assert ctx.receipt is not None
        stored = ctx.metadata_lookup(ctx.leaf()) if ctx.metadata_lookup is not None else None
        result, ctx.document_metadata = match_metadata(ctx.receipt, presented=ctx.metadata, stored=stored)
        return result
