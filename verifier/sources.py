"""What a :class:`verifier.Verifier` reads, as small protocols: its sources are injected, never assumed.

A verification needs four sources and a clock:

- **trust**: a ``keys.protocols.KeyResolver`` (a ``TrustList``, or ``keys.trust_list.RefreshingTrustList``, which
  fetches once more, rate-limited, when a receipt names a key the held list lacks);
- **chain**: a ``ledger.chain.proof.ChainStatusReader`` (the registry's ``status(agency, root, data)``); one that also
  implements :class:`RegistryReaders` is asked for the reader of the registry a document names;
- **status lists**: ``fetch(uri) -> token``, the Token Status List JWT at ``uri`` (the pipeline verifies it);
- **proofs**: :class:`Proofs`, a document's anchor proof by its leaf data (the receipt's commitment), optionally
  with the issuer's stored metadata (:class:`StoredMetadata`) and the replacement a supersession names
  (:class:`Replacements`), or found by
  the document's id first (:class:`DocumentFinder`: a third party asks the issuing service); and, to follow a chain
  of supersessions, what a source knows of each replacement (:class:`Supersessions`, :class:`Link`).

Implementations: the server's (``xacthuc.server_verifier``: database and chain index), a third party's
(``verifier.third_party``: an RPC URL and the pinned root), offline (``verifier.offline``: the signed bundle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from keys.protocols import KeyResolver
from ledger.chain.proof import ChainStatusReader, Proof
from ledger.documents.receipt import Registry

from .payload import ParsedPayload
from .report import Report

__all__ = [
    "ChainStatusReader",
    "Clock",
    "DocumentFinder",
    "KeyResolver",
    "Link",
    "NoProofs",
    "Proofs",
    "Published",
    "RegistryReaders",
    "Replacements",
    "Scope",
    "StatusLists",
    "StoredMetadata",
    "Supersessions",
]

Clock = Callable[[], datetime]
StatusLists = Callable[[str], str]
"""``fetch(uri)``: the status list token published at ``uri``."""
Scope = Callable[[ParsedPayload], AbstractContextManager[Callable[[Report], Report]]]
"""Entered around each verification; yields what completes the report (e.g. where its chain state came from)."""


class Proofs(Protocol):
    def proof_for(self, leaf: bytes) -> Proof | None:
        """The anchor proof of the document whose commitment is ``leaf``; None while it is not anchored."""
        ...


@runtime_checkable
class StoredMetadata(Protocol):
    """Proofs kept by the issuer itself, with the metadata it stored beside them."""

    def metadata_for(self, leaf: bytes) -> Mapping[str, Any] | None:
        """The metadata the issuer stored with the document (checked against the signed digest, fields named)."""
        ...


@runtime_checkable
class Replacements(Protocol):
    """Proofs that can name a replacement: ``{"number", "document_id"}`` of the document whose leaf is ``leaf``."""

    def replacement_for(self, leaf: bytes) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Published:
    """What is presented about one document (a proof bundle, the issuing service's copy): its registry, metadata
    and proof. None of it is trusted: the pipeline checks the metadata against the signed digest and recomputes the
    proof against the chain, and a registry other than the signed one fails the signature."""

    registry: Registry | None
    metadata: Mapping[str, Any] | None = None
    proof: Proof | None = None
    payload: str | None = None  # the receipt payload the service holds for this id
    replaced_by: str | None = None  # the id of the document the service says replaces it (a hint, checked)
    register: tuple[tuple[str, Proof | None], ...] | None = None  # the issuer's register of offices (checked)


@dataclass(frozen=True)
class Link:
    """What a source knows of one document in a chain of supersessions, found by its leaf data (the commitment the
    registry names as a replacement). Nothing here is taken on trust beyond what the source itself is trusted for:
    ``verifier.supersession`` binds a ``payload`` to the leaf (its commitment) before using its id, number and
    issuer, recomputes the ``proof``, and reads the document's own revocation from the chain under its issuer's
    account. ``anchorer`` (with ``document_id`` and ``number``) is used only when there is no payload, from a source
    the verifier trusts as much as the chain state it gives (a root-signed offline bundle)."""

    leaf: bytes
    proof: Proof | None = None
    payload: str | None = None
    anchorer: str | None = None
    document_id: str | None = None
    number: str | None = None
    replaced_by: str | None = None  # the id of the document that replaces this one, as the source names it


@runtime_checkable
class Supersessions(Protocol):
    """Proofs that can describe a replacement, to follow a chain of supersessions (A replaced by B, B by C)."""

    def link_for(self, leaf: bytes, document_id: str | None) -> Link | None:
        """The document whose commitment is ``leaf`` (``document_id``: its id, when the previous link named it);
        None when the source does not know it."""
        ...


@runtime_checkable
class DocumentFinder(Proofs, Protocol):
    """Proofs that must first find the document by its id (the id is signed in the payload)."""

    def find(self, document_id: str) -> Published | None: ...


@runtime_checkable
class RegistryReaders(Protocol):
    """A chain source that can read more than one registry: the reader for the one a document names."""

    def reader_for(self, registry: Registry) -> ChainStatusReader: ...


class NoProofs:
    """No proof source: every document reads as not anchored yet (``pending``), never as ``valid``."""

    def proof_for(self, leaf: bytes) -> Proof | None:
        return None
