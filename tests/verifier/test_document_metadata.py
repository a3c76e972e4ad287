"""A document's metadata is checked against the signed digest and shown only then (issue 8, item 3).

A proof bundle whose ``metadata.title`` and ``signer_name`` were altered verified ``valid``: nothing compared the
metadata with the receipt's ``metadata_digest``, so a reader saw forged values beside a valid verdict; and no report
said which decision it was or who signed it. Here the pipeline (in-memory trust list, proofs and chain) gets the
metadata of a bundle (``metadata``) and of the issuer's store (``metadata_lookup``)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.documents.metadata import DOCUMENT_FIELDS, parse_document
from ledger.documents.receipt import commitment, sign_receipt
from tests.ledger.test_receipt_fixtures import ES256_SIGNER, fields
from tests.verifier.test_document import FILE, Chain, Directory, World, anchor, check, trusted
from verifier.metadata import mismatch_code
from verifier.report import Report, Verdict

SIGNED = json.loads((Path(__file__).parents[1] / "vectors" / "documents" / "metadata.json").read_text("utf-8"))[
    "normalized"
]
DOC = parse_document(SIGNED)
# What a report may show: the receipt's signed facts, the type its number names, the metadata that matched.
RECEIPT_CLAIMS = {
    "document_id",
    "number",
    "issued_on",
    "issued_at",
    "sha256",
    "metadata_digest",
    "chain_id",
    "contract",
}
METADATA_CLAIMS = {"title", "issuing_body", "place", "signer_name", "signer_title", "signing_form"}


def signed_world() -> World:
    """A receipt that signs the digest of ``SIGNED`` (the vector's metadata), anchored on the in-memory chain."""
    receipt = sign_receipt(
        ES256_SIGNER, fields(metadata_digest=DOC.digest(), file_sha256=hashlib.sha256(FILE).digest())
    )
    chain = Chain()
    return World(receipt, {commitment(receipt): anchor(receipt, chain)}, chain, Directory([trusted(ES256_SIGNER)]))


def altered(**changes: Any) -> dict[str, Any]:
    return {**SIGNED, **changes}


def store(metadata: dict[str, Any] | None) -> Any:
    """The issuer's store, holding ``metadata`` for the world's document (looked up by its leaf data)."""
    seen: list[bytes] = []

    def lookup(leaf: bytes) -> dict[str, Any] | None:
        seen.append(leaf)
        return metadata

    lookup.seen = seen  # type: ignore[attr-defined]
    return lookup


def assert_no_metadata_shown(report: Report) -> None:
    assert not METADATA_CLAIMS & set(report.claims), report.claims


# ------------------------------------------------------------------------------------------------ tampering
def test_bundle_with_altered_title_and_signer_is_invalid() -> None:
    """The attack as reported: only the bundle, no issuer store. The digest cannot say which field changed."""
    w = signed_world()
    report = w.verify(metadata=altered(title="Về việc giải thể Ủy ban", signer_name="Trần Văn Giả"))
    assert report.verdict is Verdict.INVALID
    assert check(report, "metadata_matches") == ("invalid", "METADATA_DIGEST_MISMATCH")
    assert_no_metadata_shown(report)
    assert report.claims["number"] == "2392/QĐ-UBND"  # the receipt's own signed facts still show


@pytest.mark.parametrize("field", ["title", "signer_name"])
def test_bundle_with_an_altered_field_is_invalid_naming_it_against_the_issuers_store(field: str) -> None:
    w = signed_world()
    report = w.verify(metadata=altered(**{field: "Giả mạo"}), metadata_lookup=store(SIGNED))
    assert report.verdict is Verdict.INVALID
    assert check(report, "metadata_matches") == ("invalid", mismatch_code(field))
    result = next(c for c in report.checks if c.name == "metadata_matches")
    assert result.data["fields"] == [field]
    assert_no_metadata_shown(report)


def test_bundle_with_title_and_signer_altered_names_both_against_the_store() -> None:
    w = signed_world()
    report = w.verify(metadata=altered(title="Giả", signer_name="Giả"), metadata_lookup=store(SIGNED))
    result = next(c for c in report.checks if c.name == "metadata_matches")
    assert (result.code, result.data["fields"]) == ("METADATA_TITLE_MISMATCH", ["title", "signer_name"])
    assert "the title" in result.message and "the signer's name" in result.message


@pytest.mark.parametrize(
    ("field", "value"), [("number", "2393/QĐ-UBND"), ("issued_on", "2024-07-16")], ids=["number", "issued_on"]
)
def test_altered_number_or_date_is_named_from_the_receipt_alone(field: str, value: str) -> None:
    report = signed_world().verify(metadata=altered(**{field: value}))
    assert check(report, "metadata_matches") == ("invalid", mismatch_code(field))


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"title": 42}, "METADATA_TITLE_MISMATCH"),
        ({"issuing_body": None}, "METADATA_ISSUING_BODY_MISMATCH"),
        ({"signer_title": ""}, "METADATA_SIGNER_TITLE_MISMATCH"),
        ({"signing_form": None}, "METADATA_DIGEST_MISMATCH"),  # signed as KT.: dropping it changes the digest
        ({"note": "đã hủy"}, "METADATA_FIELD_UNKNOWN"),  # never signed, so never shown beside a verdict
    ],
    ids=["wrong-type", "missing", "empty", "signing-form-dropped", "unsigned-member"],
)
def test_malformed_bundle_metadata_is_invalid(change: dict[str, Any], code: str) -> None:
    report = signed_world().verify(metadata=altered(**change))
    assert report.verdict is Verdict.INVALID
    assert check(report, "metadata_matches") == ("invalid", code)


def test_missing_member_is_named() -> None:
    metadata = {k: v for k, v in SIGNED.items() if k != "place"}
    assert check(signed_world().verify(metadata=metadata), "metadata_matches") == ("invalid", "METADATA_PLACE_MISMATCH")


def test_altered_issuer_store_is_invalid() -> None:
    """The server's own row was edited (a database write around the API): the digest still catches it."""
    report = signed_world().verify(metadata_lookup=store(altered(signer_title="Chủ tịch")))
    assert report.verdict is Verdict.INVALID
    assert check(report, "metadata_matches") == ("invalid", "METADATA_DIGEST_MISMATCH")
    result = next(c for c in report.checks if c.name == "metadata_matches")
    assert "issuer's stored" in result.message
    assert_no_metadata_shown(report)


# ---------------------------------------------------------------------------------------------------- shown
def test_valid_bundle_shows_title_issuing_body_and_signer_in_claims() -> None:
    report = signed_world().verify(metadata=SIGNED)
    assert report.verdict is Verdict.VALID, report.to_dict()
    assert check(report, "metadata_matches") == ("valid", "METADATA_MATCHES")
    claims = report.claims
    for name in METADATA_CLAIMS:
        assert claims[name] == SIGNED[name], name
    assert (claims["type"], claims["type_name"]) == ("QĐ", "Quyết định")
    assert (claims["number"], claims["issued_on"]) == ("2392/QĐ-UBND", "2024-07-15")
    assert set(claims) == RECEIPT_CLAIMS | METADATA_CLAIMS | {"type", "type_name"}


def test_issuer_store_shows_the_signed_fields_on_a_bare_qr() -> None:
    w = signed_world()
    lookup = store(SIGNED)
    report = w.verify(metadata_lookup=lookup)
    assert report.verdict is Verdict.VALID
    result = next(c for c in report.checks if c.name == "metadata_matches")
    assert (result.code, result.data["sources"]) == ("METADATA_MATCHES", ["issuer"])
    assert report.claims["signer_name"] == "Nguyễn Văn Dũng" and report.claims["signing_form"] == "KT."
    assert lookup.seen == [commitment(w.receipt)]


def test_claims_show_the_signed_nfc_form_of_nfd_metadata() -> None:
    nfd = {k: unicodedata.normalize("NFD", v) for k, v in SIGNED.items()}
    report = signed_world().verify(metadata=nfd)
    assert report.verdict is Verdict.VALID
    assert report.claims["title"] == SIGNED["title"] and unicodedata.is_normalized("NFC", report.claims["title"])


def test_bare_qr_without_metadata_skips_the_check_and_shows_only_signed_facts() -> None:
    report = signed_world().verify()
    assert report.verdict is Verdict.VALID
    status, code = check(report, "metadata_matches")
    assert (status, code) == ("skipped", "METADATA_UNAVAILABLE")
    message = next(c.message for c in report.checks if c.name == "metadata_matches")
    assert "title" in message and "signer" in message  # says what is not shown, and why
    assert set(report.claims) == RECEIPT_CLAIMS | {"type", "type_name"}


def test_metadata_of_a_forged_receipt_is_neither_checked_nor_shown() -> None:
    w = signed_world()
    lookup = store(SIGNED)
    forged = replace(w.receipt, signature=bytes(64))
    report = w.verify(forged, metadata=SIGNED, metadata_lookup=lookup)
    assert report.verdict is Verdict.INVALID
    assert check(report, "metadata_matches") == ("skipped", "NOT_APPLICABLE")
    assert report.claims == {} and lookup.seen == []


def test_every_field_of_the_digest_is_either_shown_or_a_receipt_fact() -> None:
    assert set(DOCUMENT_FIELDS) <= METADATA_CLAIMS | RECEIPT_CLAIMS
