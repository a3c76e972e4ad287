"""The Decree 30/2020/NĐ-CP signing rules, as pure functions over the register's data (no database, no clock).

:func:`fold` builds the register (:class:`Register`: offices and delegations) from its entries' bodies in sequence
order; :func:`decide` says whether it covers a signature block (:class:`Signature`: name, title, form, date, document
type) and, if not, why, under the codes of ``ledger.offices.errors``. docs/signer-authority.md explains the rules.

- no form: the holder of a substantive office signs in their own name (not a deputy, not an acting holder);
- ``TM.``: the head of a collective body (Ủy ban nhân dân) signs on its behalf;
- ``KT.``: a deputy signs in place of the head: the signer holds a deputy office whose head is the agency's head;
- ``Q.``: an acting holder (Quyền) signs;
- ``TL.`` and ``TUQ.``: a delegation of that form names the signer and title, covers the date and the document type.

Names and titles are compared after NFC, whitespace collapsed and case folded; nothing else is folded, so a name
with a look-alike letter from another script (Cyrillic ``о`` for Latin ``o``) is another name: it matches nobody and
the refusal says which letters are foreign.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "DELEGATION_FORMS",
    "OFFICE_FORMS",
    "Decision",
    "Delegation",
    "Office",
    "Register",
    "Signature",
    "anchored_before",
    "decide",
    "fold",
    "foreign_letters",
    "name_key",
]

OFFICE_FORMS = (None, "TM.", "KT.", "Q.")
DELEGATION_FORMS = ("TL.", "TUQ.")


def anchored_before(
    entry_at: datetime | None,
    document_at: datetime | None,
    entry_block: int | None = None,
    document_block: int | None = None,
) -> bool:
    """Whether an entry counts for a document: the chain dates its anchor before the document's. The registry keeps
    each anchor's block time: an earlier time is before. Blocks of the same second (a development chain mines
    several a second; Ethereum and QBFT/Clique networks never do) are ordered by their block numbers, when known;
    the same block (the same batch, or another batch mined with it) is not before: nothing orders them. A document
    not anchored yet (``document_at`` None) will be anchored in a later block than any entry anchored now, so every
    anchored entry counts for it; an entry not anchored (``entry_at`` None) never counts."""
    if entry_at is None:
        return False
    if document_at is None or entry_at < document_at:
        return True
    if entry_at == document_at and entry_block is not None and document_block is not None:
        return entry_block < document_block
    return False


def name_key(text: str) -> str:
    """How names and titles are compared: NFC, whitespace runs as one space, case folded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def foreign_letters(text: str) -> list[str]:
    """The letters of ``text`` that are not Latin (Vietnamese names are written in Latin letters): their Unicode
    names, e.g. ``CYRILLIC SMALL LETTER O``."""
    return [unicodedata.name(c, "?") for c in unicodedata.normalize("NFC", text) if c.isalpha() and not _latin(c)]


def _latin(c: str) -> bool:
    return unicodedata.name(c, "").startswith("LATIN")


@dataclass(frozen=True)
class Office:
    """An office as the register has it: who held which title, from when until when (inclusive)."""

    id: str
    title: str
    holder: str
    start: date
    until: date | None = None
    head: bool = False  # the agency's head (người đứng đầu)
    collective: bool = False  # the head of a collective body, who signs TM.
    deputy_of: str | None = None  # the office this one is the deputy of (cấp phó)
    acting: bool = False  # an acting holder (Quyền), who signs Q.
    entry: int = 0  # the entry that added it
    ended_by: int | None = None  # the entry that ended it

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.until is None or day <= self.until)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "holder": self.holder,
            "from": self.start.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "head": self.head,
            "collective": self.collective,
            "deputy_of": self.deputy_of,
            "acting": self.acting,
            "entry": self.entry,
            "ended_by": self.ended_by,
        }


@dataclass(frozen=True)
class Delegation:
    """A delegation (TL. or TUQ.): who may sign for whom, which document types (none: all), between which dates."""

    id: str
    form: str
    delegate: str
    delegate_title: str
    start: date
    until: date | None = None
    for_office: str | None = None
    document_types: tuple[str, ...] = ()
    authorising_number: str | None = None
    entry: int = 0
    revoked_from: date | None = None  # the first day it no longer covers
    revoked_by: int | None = None

    @property
    def last_day(self) -> date | None:
        """The last day it covers: its end, or the day before its revocation, whichever is first."""
        ends = [d for d in (self.until, self.revoked_from and self.revoked_from - timedelta(days=1)) if d is not None]
        return min(ends) if ends else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "delegate": self.delegate,
            "delegate_title": self.delegate_title,
            "for_office": self.for_office,
            "document_types": list(self.document_types),
            "from": self.start.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "authorising_number": self.authorising_number,
            "entry": self.entry,
            "revoked_from": None if self.revoked_from is None else self.revoked_from.isoformat(),
            "revoked_by": self.revoked_by,
        }


@dataclass(frozen=True)
class Register:
    offices: dict[str, Office] = field(default_factory=dict)
    delegations: dict[str, Delegation] = field(default_factory=dict)
    entries: int = 0


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _opt_day(value: Any) -> date | None:
    return None if value is None else _day(value)


def office_id(seq: int) -> str:
    return f"o{seq}"


def delegation_id(seq: int) -> str:
    return f"d{seq}"


def fold(bodies: Iterable[Mapping[str, Any]]) -> Register:
    """The register after the entries (their bodies: ``seq``, ``kind``, ``data``), applied in ``seq`` order. An entry
    that names an office or delegation the register does not have changes nothing (writing refuses such entries)."""
    offices: dict[str, Office] = {}
    delegations: dict[str, Delegation] = {}
    count = 0
    for body in sorted(bodies, key=lambda b: int(b["seq"])):
        seq, kind, data = int(body["seq"]), body["kind"], body["data"]
        count += 1
        if kind == "office.add":
            offices[office_id(seq)] = Office(
                id=office_id(seq),
                title=data["title"],
                holder=data["holder"],
                start=_day(data["from"]),
                until=_opt_day(data.get("until")),
                head=bool(data.get("head", False)),
                collective=bool(data.get("collective", False)),
                deputy_of=data.get("deputy_of"),
                acting=bool(data.get("acting", False)),
                entry=seq,
            )
        elif kind == "office.end" and data.get("office") in offices:
            o = offices[data["office"]]
            until = _day(data["until"])
            offices[o.id] = replace(o, until=until if o.until is None else min(o.until, until), ended_by=seq)
        elif kind == "delegation.add":
            delegations[delegation_id(seq)] = Delegation(
                id=delegation_id(seq),
                form=data["form"],
                delegate=data["delegate"],
                delegate_title=data["delegate_title"],
                start=_day(data["from"]),
                until=_opt_day(data.get("until")),
                for_office=data.get("for_office"),
                document_types=tuple(data.get("document_types") or ()),
                authorising_number=data.get("authorising_number"),
                entry=seq,
            )
        elif kind == "delegation.revoke" and data.get("delegation") in delegations:
            d = delegations[data["delegation"]]
            revoked = _day(data["from"])
            if d.revoked_from is None or revoked < d.revoked_from:
                delegations[d.id] = replace(d, revoked_from=revoked, revoked_by=seq)
    return Register(offices, delegations, count)


@dataclass(frozen=True)
class Signature:
    """A document's signature block: the signer's name and own title, the form (None: in their own name), the date
    (``issued_on``) and the document type (the number's abbreviation: ``QĐ``; a công văn is ``CV``)."""

    name: str
    title: str
    form: str | None
    on: date
    document_type: str = "CV"


@dataclass(frozen=True)
class Decision:
    """Covered (``code`` None) with the office or delegation that covers it, or not, with the code and why."""

    code: str | None
    message: str
    office: Office | None = None
    delegation: Delegation | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        return self.code is None

    @property
    def entry(self) -> int | None:
        """The register entry the decision rests on (the office's or delegation's)."""
        found = self.office or self.delegation
        return None if found is None else found.entry


def _no(code: str, message: str, **data: Any) -> Decision:
    return Decision(code, message, data=data)


def decide(register: Register, sig: Signature) -> Decision:
    """Whether ``register`` covers ``sig`` under Decree 30's signing forms; see the module's docstring."""
    if sig.form in DELEGATION_FORMS:
        return _delegated(register, sig)
    if sig.form not in OFFICE_FORMS:
        return _no("SIGNING_FORM_NOT_ALLOWED", f"unknown signing form {sig.form!r}")
    name, title = name_key(sig.name), name_key(sig.title)
    held = [o for o in register.offices.values() if name_key(o.holder) == name and name_key(o.title) == title]
    on = [o for o in held if o.covers(sig.on)]
    if not on:
        return _not_in_office(register, sig, held)
    reasons = []
    for office in sorted(on, key=lambda o: o.entry):
        reason = _form_refused(register, office, sig.form)
        if reason is None:
            when = f"from {office.start.isoformat()}" + (f" until {office.until.isoformat()}" if office.until else "")
            return Decision(None, f"{office.holder} held the office {office.title} on {sig.on} ({when})", office)
        reasons.append(reason)
    return Decision("SIGNING_FORM_NOT_ALLOWED", reasons[0], on[0])


def _not_in_office(register: Register, sig: Signature, held: list[Office]) -> Decision:
    if held:
        spans = ", ".join(f"{o.start} to {o.until or 'today'}" for o in sorted(held, key=lambda o: o.start))
        return _no(
            "SIGNER_NOT_IN_OFFICE",
            f"{sig.name} did not hold the office {sig.title} on {sig.on} (held it {spans})",
            entries=[o.entry for o in held],
        )
    foreign = foreign_letters(sig.name) + foreign_letters(sig.title)
    if foreign:
        return _no(
            "SIGNER_NOT_IN_OFFICE",
            f"the signer's name or title has letters that are not Latin ({', '.join(foreign)}): it matches nobody",
            foreign_letters=foreign,
        )
    titles = [o.title for o in register.offices.values() if name_key(o.holder) == name_key(sig.name)]
    if titles:
        return _no(
            "SIGNER_NOT_IN_OFFICE",
            f"{sig.name} never held the office {sig.title} (the register has them as {', '.join(titles)})",
        )
    return _no("SIGNER_NOT_IN_OFFICE", f"the register has no office {sig.title} held by {sig.name}")


def _form_refused(register: Register, office: Office, form: str | None) -> str | None:
    """Why the holder of ``office`` may not sign in ``form`` (None: they may)."""
    if form is None:
        if office.deputy_of is not None:
            return f"{office.title} is a deputy's office: a deputy signs KT. (in place of the head)"
        if office.acting:
            return f"{office.title} is held in an acting capacity: an acting holder signs Q."
        return None
    if form == "TM.":
        if office.head and office.collective and office.deputy_of is None and not office.acting:
            return None
        return f"TM. is signed by the head of a collective body; {office.title} is not one in the register"
    if form == "KT.":
        if office.deputy_of is None:
            return f"KT. is signed by a deputy; {office.title} is not a deputy's office in the register"
        head = register.offices.get(office.deputy_of)
        if head is None or not head.head:
            of = head.title if head is not None else office.deputy_of
            return f"KT. is signed in place of the agency's head; {office.title} is the deputy of {of}, not of the head"
        return None
    if not office.acting:  # Q.
        return f"Q. is signed by an acting holder; {office.title} is not held in an acting capacity"
    return None


def _delegated(register: Register, sig: Signature) -> Decision:
    name, title = name_key(sig.name), name_key(sig.title)
    mine = [
        d for d in register.delegations.values() if name_key(d.delegate) == name and name_key(d.delegate_title) == title
    ]
    same = sorted((d for d in mine if d.form == sig.form), key=lambda d: d.entry)
    if not same:
        if mine:
            return _no(
                "SIGNING_FORM_NOT_ALLOWED",
                f"{sig.name}'s delegations are {', '.join(sorted({d.form for d in mine}))}, not {sig.form}",
                entries=[d.entry for d in mine],
            )
        foreign = foreign_letters(sig.name) + foreign_letters(sig.title)
        why = f" (letters that are not Latin: {', '.join(foreign)})" if foreign else ""
        return _no("DELEGATION_MISSING", f"the register has no {sig.form} delegation to {sig.name}, {sig.title}{why}")
    started = [d for d in same if d.start <= sig.on]
    if not started:
        first = min(d.start for d in same)
        return _no(
            "DELEGATION_NOT_COVERING",
            f"the {sig.form} delegation to {sig.name} starts on {first}, after {sig.on}",
            entries=[d.entry for d in same],
        )
    current = [d for d in started if d.last_day is None or sig.on <= d.last_day]
    if not current:
        last = max(started, key=lambda d: d.last_day or date.max)
        if (
            last.revoked_from is not None
            and last.revoked_from <= sig.on
            and last.last_day == (last.revoked_from - timedelta(days=1))
        ):
            return _no(
                "DELEGATION_REVOKED",
                f"the {sig.form} delegation to {sig.name} was revoked from {last.revoked_from}, before {sig.on}",
                entries=[last.entry, last.revoked_by],
            )
        return _no(
            "DELEGATION_EXPIRED",
            f"the {sig.form} delegation to {sig.name} ended on {last.last_day}, before {sig.on}",
            entries=[last.entry],
        )
    covering = [d for d in current if not d.document_types or sig.document_type in d.document_types]
    if not covering:
        types = sorted({t for d in current for t in d.document_types})
        return _no(
            "DELEGATION_NOT_COVERING",
            f"the {sig.form} delegation to {sig.name} covers {', '.join(types)}, not {sig.document_type}",
            entries=[d.entry for d in current],
        )
    d = covering[0]
    under = f" under {d.authorising_number}" if d.authorising_number else ""
    return Decision(None, f"{sig.name} signed {sig.form} under a delegation in force on {sig.on}{under}", delegation=d)
