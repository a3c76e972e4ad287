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
  the document's id first (:class:`DocumentFinder`: a third party asks the issuing service).

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
    "NoProofs",
    "Proofs",
    "Published",
    "RegistryReaders",
    "Replacements",
    "Scope",
    "StatusLists",
    "StoredMetadata",
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
