"""The four limits of keys/limits.py that tests/security/test_limits.py's table does not reach, at and past the limit.

Each is tested where it is enforced, without building what an end-to-end test would need (65 issued documents, a
16 GiB archive member): ``REPLACEMENT_CHAIN`` with document rows in an in-memory SQLite session (the walk reads only
``replaced_by``), ``PDF_STAMP_PAYLOAD_HEX`` and ``PDF_STAMP_CANDIDATES`` with PDFs stamped by ``ledger.pdf.stamp``,
``BACKUP_MEMBER_BYTES`` with a backup sealed by the module's own writer whose member's tar header claims the size
(the bytes it claims are never written). docs/limits.md names these tests in its table.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table
from sqlmodel import Session, SQLModel, create_engine

from keys import limits as L
from keys.errors import XacthucError
from keys.keystore import Passphrase
from keys.sealing import ScryptParams
from ledger.documents.issuing import DocumentRow
from ledger.documents.replacement import ReplacementCycle, ReplacementRevoked, _replaces, check_replacement
from ledger.pdf.stamp import StampText, stamp_pdf
from tests.pdf_samples import sample_pdf
from verifier.dispatch import VerifyRequest, parsed_input, with_pdf_stamp
from verifier.errors import PayloadUnrecognized
from verifier.pdf import STAMP_MARK, find_stamp, stamped_file_check
from verifier.qr import qr_matrix
from xacthuc.backup import archive
from xacthuc.backup.errors import BackupDamaged
from xacthuc.backup.sealed_file import FORMAT, SealedWriter

NOW = datetime(2024, 7, 15, 3, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------- REPLACEMENT_CHAIN
def _doc_id(n: int) -> str:
    return f"01JCHAIN{n:018d}"


@pytest.fixture
def chain_session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    table: Table = DocumentRow.__table__  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=[table])
    with Session(engine) as session:
        yield session
    engine.dispose()


def _chain(session: Session, links: int) -> tuple[DocumentRow, DocumentRow]:
    """Documents 0..links, each superseded by the next as ``revoke_document`` records it (``replaced_by`` with
    ``revoked_at``): the first, and the last (in force, the chain's head)."""
    rows = [
        DocumentRow(
            id=_doc_id(n),
            agency_id="ubnd-hcm",
            number=f"{n + 1}/QĐ-UBND",
            metadata_json="{}",
            sha256="00" * 32,
            payload="XD1:",
            commitment=n.to_bytes(32, "big"),
            account="0x" + "11" * 20,
            chain_id=31337,
            contract="0x" + "22" * 20,
            created_at=NOW,
            revocation_reason="replaced" if n < links else None,
            replaced_by=_doc_id(n + 1) if n < links else None,
            revoked_at=NOW if n < links else None,
        )
        for n in range(links + 1)
    ]
    session.add_all(rows)
    session.flush()
    return rows[0], rows[-1]


def test_replacement_cycle_at_the_chain_limit_is_refused_as_a_cycle(chain_session: Session) -> None:
    """The head of a chain of REPLACEMENT_CHAIN supersessions may not be replaced by the chain's first document: the
    walk follows every link and finds the cycle."""
    first, head = _chain(chain_session, L.REPLACEMENT_CHAIN)
    assert _replaces(chain_session, first, head.id)
    with pytest.raises(ReplacementCycle) as caught:
        check_replacement(chain_session, head, first.id)
    assert caught.value.code == "DOC_REPLACEMENT_CYCLE"


@pytest.mark.attack
def test_replacement_cycle_past_the_chain_limit_is_still_refused(chain_session: Session) -> None:
    """One link more: the walk stops (docs/limits.md: no error of its own) and does not see the cycle, but the
    replacement is refused all the same, by the next rule: the chain's first document is itself superseded (every
    document of a chain but its head is), so no cycle is ever recorded through a long chain."""
    first, head = _chain(chain_session, L.REPLACEMENT_CHAIN + 1)
    assert not _replaces(chain_session, first, head.id)
    with pytest.raises(ReplacementRevoked) as caught:
        check_replacement(chain_session, head, first.id)
    assert caught.value.code == "DOC_REPLACEMENT_REVOKED" and "superseded" in caught.value.message
    assert head.revoked_at is None and head.replaced_by is None


# ------------------------------------------------------------------------------ PDF_STAMP_PAYLOAD_HEX / _CANDIDATES
LINK = "https://xacthuc.hochiminhcity.gov.vn/v#XD1:0123456789"
TEXT = StampText(host="xacthuc.hochiminhcity.gov.vn", number="2392/QĐ-UBND", document_id="01J9ZX3Q4K8M2N6P7R8S9T0V1W")


def _payload(chars: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:"
    return ("XD1:" + alphabet * (chars // len(alphabet) + 1))[:chars]


def _stamped(payload: str, *, mentions: int = 0, original: bytes | None = None) -> bytes:
    """A PDF stamped by the issuer's stamper; ``mentions``: times the original's text shows the stamp's key (a page
    about the stamp format, say), each an occurrence of the mark the parser looks at before the stamp's own."""
    if original is None:
        original = sample_pdf(title=" ".join(["/XacthucStamp"] * mentions) or "QUYET DINH 2392/QD-UBND")
    return stamp_pdf(original, payload=payload, qr=qr_matrix(LINK), text=TEXT)


def _hex_in_brackets(pdf: bytes) -> bytes:
    start = pdf.index(b"/Payload", pdf.rindex(STAMP_MARK)) + len(b"/Payload")
    return pdf[pdf.index(b"<", start) + 1 : pdf.index(b">", start)]


def test_pdf_stamp_payload_at_the_limit_is_found() -> None:
    payload = _payload(L.PDF_STAMP_PAYLOAD_HEX // 2)
    pdf = _stamped(payload)
    assert len(_hex_in_brackets(pdf)) == L.PDF_STAMP_PAYLOAD_HEX
    stamp = find_stamp(pdf)
    assert stamp is not None and stamp.payload == payload and not stamp.updated_after_stamp
    # the verifier takes the payload from the stamp (its own limits, DOCUMENT_PAYLOAD_CHARS, then apply)
    assert parsed_input(with_pdf_stamp(VerifyRequest(file=pdf))).payload == payload


def _one_past_the_payload_hex() -> list[tuple[bytes, int]]:
    """Stamped PDFs whose payload is just past the bound, with the characters between its brackets: one byte more
    (two hex digits: the stamper writes whole bytes), and exactly one character more (the bound counts whitespace,
    which a PDF may put between the digits: here a newline in the at-the-limit stamp's digits)."""
    longer = _stamped(_payload(L.PDF_STAMP_PAYLOAD_HEX // 2 + 1))
    at = _stamped(_payload(L.PDF_STAMP_PAYLOAD_HEX // 2))
    digits = _hex_in_brackets(at)
    spaced = at.replace(b"<" + digits + b">", b"<" + digits[:2] + b"\n" + digits[2:] + b">", 1)
    assert find_stamp(at) is not None and spaced != at
    return [(longer, L.PDF_STAMP_PAYLOAD_HEX + 2), (spaced, L.PDF_STAMP_PAYLOAD_HEX + 1)]


@pytest.mark.attack
def test_pdf_stamp_payload_past_the_limit_is_not_found() -> None:
    """Past the bound the stamp is not found (docs/limits.md): the PDF is an unstamped file, and verifying it alone
    asks for a payload; it never yields a payload cut short. A real payload is about 280 characters (560 digits),
    and any payload past the bound is past DOCUMENT_PAYLOAD_CHARS too, so no issued stamp is lost to it."""
    assert L.PDF_STAMP_PAYLOAD_HEX // 2 > L.DOCUMENT_PAYLOAD_CHARS
    for pdf, chars in _one_past_the_payload_hex():
        assert len(_hex_in_brackets(pdf)) == chars
        assert find_stamp(pdf) is None
        with pytest.raises(PayloadUnrecognized) as caught:
            parsed_input(with_pdf_stamp(VerifyRequest(file=pdf)))
        assert caught.value.code == "PAYLOAD_UNRECOGNIZED"


def test_pdf_stamp_at_the_last_candidate_is_found() -> None:
    """The stamp's entry is the PDF_STAMP_CANDIDATES-th occurrence of the mark: it is looked at, and found."""
    pdf = _stamped("XD1:CANDIDATE", mentions=L.PDF_STAMP_CANDIDATES - 1)
    assert pdf.count(STAMP_MARK) == L.PDF_STAMP_CANDIDATES
    stamp = find_stamp(pdf)
    assert stamp is not None and stamp.payload == "XD1:CANDIDATE"


@pytest.mark.attack
def test_pdf_stamp_past_the_candidate_limit_is_not_found() -> None:
    """One occurrence more before it: the stamp's entry is not looked at, and the PDF is an unstamped file. Only the
    issued file itself can put the mark before the stamp (bytes changed there fail FILE_MODIFIED), so this costs
    the issuer of such a file its stamp, and gives nobody a stamp that is not there."""
    pdf = _stamped("XD1:CANDIDATE", mentions=L.PDF_STAMP_CANDIDATES)
    assert pdf.count(STAMP_MARK) == L.PDF_STAMP_CANDIDATES + 1
    assert find_stamp(pdf) is None
    with pytest.raises(PayloadUnrecognized):
        parsed_input(with_pdf_stamp(VerifyRequest(file=pdf)))


@pytest.mark.attack
def test_outer_stamp_past_the_candidate_limit_is_never_shown_valid() -> None:
    """A stamped PDF issued again and stamped again, its outer stamp's entry one past the limit: the inner stamp is
    the one found, and its file check fails (the outer update follows it) instead of showing the outer document's
    file as the inner one's, or as valid."""
    original = sample_pdf(title=" ".join(["/XacthucStamp"] * (L.PDF_STAMP_CANDIDATES - 1)))
    inner = _stamped("XD1:INNER", original=original)
    outer = _stamped("XD1:OUTER", original=inner)
    assert outer.count(STAMP_MARK) == L.PDF_STAMP_CANDIDATES + 1
    stamp = find_stamp(outer)
    assert stamp is not None and stamp.payload == "XD1:INNER" and stamp.original_length == len(original)
    check = stamped_file_check("file_matches", hashlib.sha256(original).digest(), stamp, outer, None)
    assert check.code == "FILE_UPDATED_AFTER_STAMP"
    # within the limit the outer stamp is the one found
    within = _stamped("XD1:OUTER", original=_stamped("XD1:INNER", mentions=L.PDF_STAMP_CANDIDATES - 2))
    found = find_stamp(within)
    assert found is not None and found.payload == "XD1:OUTER"


# -------------------------------------------------------------------------------------------- BACKUP_MEMBER_BYTES
PASSPHRASE = "mật khẩu của kho khoá"


def _backup_claiming(path: Path, size: int) -> Path:
    """A backup sealed by the module's own writer: a valid manifest, then a member whose tar header says it holds
    ``size`` bytes (a PAX size record, as tarfile writes for members past 8 GiB) and no bytes at all."""
    manifest = {"format": FORMAT, "tables": [], "files": ["big.bin"], "registry": None, "revision": "x"}
    header = {"created_at": NOW.isoformat(), "database": "sqlite", "revision": "x"}
    with open(path, "xb") as fh:
        sealed = SealedWriter(fh, header, PASSPHRASE, ScryptParams(n=2**10))
        with tarfile.open(fileobj=sealed, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
            archive._add(tar, archive.MANIFEST, json.dumps(manifest).encode())
            info = tarfile.TarInfo("files/big.bin")
            info.size, info.mode, info.mtime = size, 0o600, 0
            block = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            assert b"size=%d\n" % size in block  # the claim is in the header itself
            assert tar.fileobj is not None
            tar.fileobj.write(block)
            tar.offset += len(block)
        sealed.finish()
    return path


def _restore(source: Path, tmp_path: Path) -> XacthucError:
    city = tmp_path / "city"
    with pytest.raises(BackupDamaged) as caught:
        archive.restore_backup(source, data_dir=city, database_url=None, passphrase=Passphrase(PASSPHRASE))
    assert not city.exists() and not (tmp_path / ".city.restoring").exists()  # refused before anything is written
    return caught.value


def test_backup_member_at_the_size_limit_passes_the_check(tmp_path: Path) -> None:
    """A member claiming exactly BACKUP_MEMBER_BYTES passes the size check; the restore then fails only because the
    bytes it claims are not there (the archive ends), never reading past what the file holds."""
    error = _restore(_backup_claiming(tmp_path / "at.backup", L.BACKUP_MEMBER_BYTES), tmp_path)
    assert error.code == "BACKUP_DAMAGED"
    assert "may not" not in error.message and "ReadError" in error.message, error.message


@pytest.mark.attack
def test_backup_member_past_the_size_limit_is_refused(tmp_path: Path) -> None:
    """A member claiming one byte more is refused from its header, before any of it is read."""
    error = _restore(_backup_claiming(tmp_path / "past.backup", L.BACKUP_MEMBER_BYTES + 1), tmp_path)
    assert error.code == "BACKUP_DAMAGED"
    assert "holds an entry it may not: 'files/big.bin'" in error.message, error.message
