"""An agency's register of offices and delegations: its table, its writes, what issuing asks it, what it publishes.

Every change is an entry (``ledger.offices.entries``) signed with the agency's key and written with its Merkle leaf
queued in the anchoring outbox in the same transaction, exactly as a document's is (``ledger.chain.outbox.enqueue``):
the same worker anchors both, in the same batches. No function here commits: the caller owns the transaction.

**What counts for a document** (docs/signer-authority.md): an entry counts only if the chain dates its anchor
strictly before the document's (the registry's block time for the agency's own account; the same batch or the same
block is not before). Issuing keeps to it from the other side: a document is accepted only when the entries that
cover its signer are anchored already, so its own anchor comes in a later block; entries still waiting that would
refuse it (an office ended, a delegation revoked) refuse it at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary, Text, UniqueConstraint, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from keys.protocols import Signer
from ledger._driver_select import DriverSelect
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, as_utc, enqueue
from ledger.chain.proof import Proof
from ledger.chain.stored_proofs import anchored, stored_proof
from ledger.documents.metadata import Document, parse_number
from ledger.documents.receipt import Registry
from ledger.offices import entries as _entries  # a module: issuing imports this one while entries.py loads
from ledger.offices.errors import (
    AUTHORITY_ERRORS,
    DelegationAlreadyRevoked,
    DelegationNotFound,
    OfficeAlreadyEnded,
    OfficeEntryPending,
    OfficeFieldInvalid,
    OfficeNotFound,
    OfficeRegisterConflict,
)
from ledger.offices.rules import Decision, Register, Signature, decide, fold

__all__ = [
    "OfficeEntryRow",
    "StoredEntry",
    "Writer",
    "add_delegation",
    "add_office",
    "all_registers",
    "bundle_section",
    "check_signer",
    "current_register",
    "end_office",
    "entries_of",
    "entries_on",
    "refusal",
    "register_items",
    "register_items_on",
    "register_json",
    "revoke_delegation",
    "signature_of",
    "signer_check",
]


class OfficeEntryRow(SQLModel, table=True):
    """One signed entry of an agency's register (migration 0018)."""

    __tablename__ = "ledger_office_entry"
    __table_args__ = (UniqueConstraint("agency_id", "seq", name="uq_ledger_office_entry_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_id: str = Field(max_length=64)
    seq: int
    kind: str = Field(max_length=32)
    token: str = Field(sa_column=Column(Text, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    account: str = Field(max_length=42)  # the agency account whose anchor dates it
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(max_length=42)
    created_at: datetime


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored, with its anchor proof once its batch is confirmed (None while it waits)."""

    seq: int
    kind: str
    token: str
    leaf: bytes
    created_at: datetime
    proof: Proof | None
    anchored: bool

    @property
    def body(self) -> dict[str, Any]:
        return _body(self.token)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "token": self.token,
            "leaf": "0x" + self.leaf.hex(),
            "data": self.body["data"],
            "created_at": as_utc(self.created_at).isoformat().replace("+00:00", "Z"),
            "status": "anchored" if self.anchored else "pending",
            "proof": None if self.proof is None else self.proof.to_dict(),
        }


@functools.lru_cache(maxsize=4096)
def _body(token: str) -> dict[str, Any]:
    """An entry's body, parsed and checked once: a token never changes, and issuing reads the whole register for
    every document (50 entries cost about 16 ms a document parsed each time, against 1-2 ms kept). Read only."""
    return _entries.read_entry(token).body


_ENTRIES = DriverSelect(  # built once: a verification reads its issuer's register on every request
    sa_select(
        col(OfficeEntryRow.seq),
        col(OfficeEntryRow.kind),
        col(OfficeEntryRow.token),
        col(OfficeEntryRow.leaf),
        col(OfficeEntryRow.created_at),
        col(OfficeEntryRow.chain_id),
        col(OfficeEntryRow.contract),
        col(AnchorBatch.id),
        col(AnchorBatch.root),
        col(AnchorBatch.state),
        col(AnchorBatch.tx_hash),
        col(AnchorBatch.block_number),
        col(AnchorBatch.anchored_at),
    )
    .select_from(OfficeEntryRow)
    .outerjoin(AnchorLeaf, col(AnchorLeaf.data) == col(OfficeEntryRow.leaf))
    .outerjoin(AnchorBatch, col(AnchorBatch.id) == col(AnchorLeaf.batch_id))
    .where(col(OfficeEntryRow.agency_id) == bindparam("agency"))
    .order_by(col(OfficeEntryRow.seq))
)


def entries_of(session: Session, agency_id: str, *, proofs: bool = True) -> list[StoredEntry]:
    """The agency's entries in ``seq`` order, each with its proof (``proofs``) or only whether it is anchored."""
    return entries_on(session.connection(), agency_id, proofs=proofs)


def entries_on(conn: Connection, agency_id: str, *, proofs: bool = True) -> list[StoredEntry]:
    """``entries_of`` on a connection (the server's verifier reads it on the request's own connection)."""
    out = []
    for row in _ENTRIES.all(conn, {"agency": agency_id}):
        leaf = bytes(row.leaf)
        proof = stored_proof(conn, leaf, row) if proofs else None
        done = anchored(row.state, row.tx_hash, row.block_number, row.anchored_at)
        out.append(StoredEntry(int(row.seq), row.kind, row.token, leaf, row.created_at, proof, done))
    return out


def current_register(session: Session, agency_id: str) -> Register:
    """The register with every entry written so far, anchored or not (what the next change is checked against)."""
    return fold(e.body for e in entries_of(session, agency_id, proofs=False))


# --------------------------------------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class Writer:
    """Who writes an agency's entries: its key, its account (whose anchors date them) and the registry."""

    agency_id: str
    signer: Signer
    account_address: str
    registry: Registry


def _append(session: Session, w: Writer, kind: str, data: Mapping[str, Any], now: datetime) -> StoredEntry:
    last = session.exec(
        select(OfficeEntryRow.seq, OfficeEntryRow.leaf)
        .where(OfficeEntryRow.agency_id == w.agency_id)
        .order_by(col(OfficeEntryRow.seq).desc())
        .limit(1)
    ).first()
    seq = 1 if last is None else int(last[0]) + 1
    prev = None if last is None else bytes(last[1])
    token = _entries.sign_entry(
        w.signer, _entries.make_body(agency_id=w.agency_id, seq=seq, prev=prev, now=now, kind=kind, data=data)
    )
    leaf = _entries.entry_leaf(token)
    row = OfficeEntryRow(
        agency_id=w.agency_id,
        seq=seq,
        kind=kind,
        token=token,
        leaf=leaf,
        account=w.account_address,
        chain_id=w.registry.chain_id,
        contract=w.registry.hex_address,
        created_at=as_utc(now),
    )
    session.add(row)
    enqueue(session, w.account_address, leaf, now)
    try:
        session.flush()
    except IntegrityError:
        raise OfficeRegisterConflict() from None
    return StoredEntry(seq, kind, token, leaf, row.created_at, None, False)


def add_office(session: Session, w: Writer, fields: Mapping[str, Any], now: datetime) -> StoredEntry:
    """Appoint: an ``office.add`` entry (``ledger.offices.entries.office_data``); ``deputy_of`` must be an office of
    the register."""
    data = _entries.office_data(fields)
    if data["deputy_of"] is not None and data["deputy_of"] not in current_register(session, w.agency_id).offices:
        raise OfficeFieldInvalid("deputy_of", f"the register has no office {data['deputy_of']}")
    return _append(session, w, "office.add", data, now)


def end_office(session: Session, w: Writer, office: str, until: str | date, now: datetime) -> StoredEntry:
    """End an office: its last day is ``until``."""
    data = _entries.end_data({"office": office, "until": until})
    found = current_register(session, w.agency_id).offices.get(data["office"])
    if found is None:
        raise OfficeNotFound(f"the register of {w.agency_id} has no office {office}")
    if found.ended_by is not None:
        raise OfficeAlreadyEnded(f"office {office} ended on {found.until} (entry {found.ended_by})")
    if date.fromisoformat(data["until"]) < found.start:
        raise OfficeFieldInvalid("until", f"is before the office began ({found.start})")
    return _append(session, w, "office.end", data, now)


def add_delegation(session: Session, w: Writer, fields: Mapping[str, Any], now: datetime) -> StoredEntry:
    """Delegate (TL. or TUQ.): a ``delegation.add`` entry; ``for_office`` must be an office of the register."""
    data = _entries.delegation_data(fields)
    if data["for_office"] is not None and data["for_office"] not in current_register(session, w.agency_id).offices:
        raise OfficeFieldInvalid("for_office", f"the register has no office {data['for_office']}")
    return _append(session, w, "delegation.add", data, now)


def revoke_delegation(session: Session, w: Writer, delegation: str, from_day: str | date, now: datetime) -> StoredEntry:
    """Revoke a delegation: from ``from_day`` on it covers nothing."""
    data = _entries.revoke_data({"delegation": delegation, "from": from_day})
    found = current_register(session, w.agency_id).delegations.get(data["delegation"])
    if found is None:
        raise DelegationNotFound(f"the register of {w.agency_id} has no delegation {delegation}")
    if found.revoked_by is not None:
        raise DelegationAlreadyRevoked(f"delegation {delegation} was revoked from {found.revoked_from}")
    return _append(session, w, "delegation.revoke", data, now)


# --------------------------------------------------------------------------------------------------------- issuing
def signature_of(metadata: Document | Mapping[str, Any]) -> Signature:
    """A document's signature block, from its metadata (a :class:`Document` or its dict form)."""
    if isinstance(metadata, Document):
        doc_type = metadata.number.type_abbr or "CV"
        return Signature(
            metadata.signer_name, metadata.signer_title, metadata.signing_form, metadata.issued_on, doc_type
        )
    try:
        doc_type = parse_number(str(metadata["number"])).type_abbr or "CV"
    except (ValueError, KeyError):
        doc_type = "CV"
    return Signature(
        str(metadata["signer_name"]),
        str(metadata["signer_title"]),
        metadata.get("signing_form") or None,
        date.fromisoformat(str(metadata["issued_on"])),
        doc_type,
    )


def refusal(decision: Decision) -> Exception:
    """The typed error for a decision that does not cover the signer."""
    assert decision.code is not None
    return AUTHORITY_ERRORS[decision.code](decision.message, data=decision.data)


_KEEPS = sa_select(col(OfficeEntryRow.seq)).where(col(OfficeEntryRow.agency_id) == bindparam("agency")).limit(1)


def signer_check(session: Session, agency_id: str) -> Callable[[Document, int | None], Decision | None]:
    """Issuing's question, the register read once (for one document or a whole batch): ``check(document, item)``
    answers None when the agency keeps no register (it issues as before), else the decision that covers the
    document's signer. It raises the refusal (422, its code says why) when the register, entries not yet anchored
    included, does not cover the signer, and ``OFFICE_ENTRY_PENDING`` (409) when only entries not yet anchored do.
    ``item`` (a batch's index) prefixes the message."""
    kept = session.connection().execute(_KEEPS, {"agency": agency_id}).first()  # the common case: none, cheaply
    entries = entries_of(session, agency_id, proofs=False) if kept is not None else []
    if not entries:
        return _no_register
    everything = fold(e.body for e in entries)
    anchored = fold(e.body for e in entries if e.anchored)

    def check(document: Document, item: int | None = None) -> Decision | None:
        sig = signature_of(document)
        where = "" if item is None else f"documents[{item}]: "
        decision = decide(everything, sig)
        if not decision.covered:
            raise refusal(replace(decision, message=where + decision.message))
        decision = decide(anchored, sig)
        if not decision.covered:
            raise OfficeEntryPending(
                f"{where}the register entry that covers {sig.name} is not anchored yet; issue the document once it"
                " is (seconds)"
            )
        return decision

    return check


def _no_register(document: Document, item: int | None = None) -> Decision | None:
    return None


def check_signer(session: Session, agency_id: str, document: Document) -> Decision | None:
    """:func:`signer_check` for one document."""
    return signer_check(session, agency_id)(document, None)


# ------------------------------------------------------------------------------------------------------ publishing
def register_items(session: Session, agency_id: str) -> list[tuple[str, Proof | None]]:
    """The agency's entries as a verifier takes them: each token with its proof (None while it waits)."""
    return register_items_on(session.connection(), agency_id)


def register_items_on(conn: Connection, agency_id: str) -> list[tuple[str, Proof | None]]:
    """``register_items`` on a connection (the server's verifier: the request's own connection)."""
    return [(e.token, e.proof) for e in entries_on(conn, agency_id)]


def bundle_section(session: Session, agency_id: str) -> dict[str, Any] | None:
    """What a proof bundle carries of its agency's register (``signer_authority``): every entry's token and proof, so
    the signer's authority verifies with only an RPC node; None when the agency keeps no register."""
    items = register_items(session, agency_id)
    if not items:
        return None
    entries = [{"token": t, "proof": None if p is None else p.to_dict()} for t, p in items]
    return {"agency_id": agency_id, "entries": entries}


def all_registers(session: Session) -> dict[str, list[str]]:
    """Every agency's entry tokens in ``seq`` order (the offline bundle's ``registry.offices``: their proofs are
    rebuilt there from the anchored roots' leaves)."""
    rows = session.exec(
        select(OfficeEntryRow.agency_id, OfficeEntryRow.token).order_by(
            col(OfficeEntryRow.agency_id), col(OfficeEntryRow.seq)
        )
    ).all()
    out: dict[str, list[str]] = {}
    for agency_id, token in rows:
        out.setdefault(agency_id, []).append(token)
    return out


def register_json(session: Session, agency_id: str) -> dict[str, Any]:
    """``GET /v1/agencies/{id}/offices``: every signed entry with its proof (``status`` pending until anchored), and
    the offices and delegations they make (all entries, anchored or not)."""
    entries = entries_of(session, agency_id)
    everything = fold(e.body for e in entries)
    return {
        "agency_id": agency_id,
        "entries": [e.to_dict() for e in entries],
        "offices": [o.to_dict() for o in everything.offices.values()],
        "delegations": [d.to_dict() for d in everything.delegations.values()],
    }
