"""The verifier service: one object that verifies documents and citizen IDs against the sources it is given.

``Verifier(trust=..., chain=..., status_lists=..., proofs=..., clock=...)`` decides with whatever implements the
protocols of :mod:`verifier.sources`; :func:`verifier.third_party.third_party_verifier` and
:func:`verifier.offline.offline_verifier` build one for a third party and for the offline bundle, and the server
builds its own (``xacthuc.server_verifier``). The pipelines (``verify_document``, ``verify_credential``) are the same
for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from keys.errors import XacthucError
from keys.protocols import KeyResolver
from ledger.chain.proof import ChainStatusReader, Proof
from ledger.documents.receipt import Registry, decode_payload

from .bundle import BUNDLE_TYPE, BundleInvalid, bundle_metadata, bundle_registry, bundle_replaced_by
from .credential import verify_credential
from .dispatch import VerifyRequest, parsed_input, with_pdf_stamp
from .document import verify_document
from .payload import ParsedPayload, PayloadKind, parse_payload
from .pdf import PdfStamp, find_stamp
from .report import Report
from .signer_authority import OfficeRegisters, RegisterItem, RegisterLookup, bundle_register
from .sources import (
    DocumentFinder,
    Proofs,
    Published,
    RegistryReaders,
    Replacements,
    Scope,
    StatusLists,
    StoredMetadata,
    Supersessions,
)

__all__ = ["DEFAULT_FRESHNESS", "Verifier", "document_id_of"]

DEFAULT_FRESHNESS = timedelta(minutes=5)  # a key-binding JWT's age (XACTHUC_KB_FRESHNESS_SECONDS on the server)
_ANY_REGISTRY = Registry(1, bytes(20))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _identity(report: Report) -> Report:
    return report


@contextmanager
def _no_scope(parsed: ParsedPayload) -> Iterator[Callable[[Report], Report]]:
    yield _identity


def document_id_of(payload: str) -> str | None:
    """The document id a ``XD1:`` payload carries, read without the registry (None if it does not decode): only to
    find the document's proof; the pipeline decodes and checks the payload itself."""
    try:
        return decode_payload(payload, registry=_ANY_REGISTRY).document_id_str
    except XacthucError:
        return None


class Verifier:
    """Verifies QR texts, links, images and proof bundles into reports, reading only the injected sources.

    ``trust`` resolves issuers' keys; ``chain`` reads the registry; ``status_lists`` fetches Token Status Lists;
    ``proofs`` gives a document's anchor proof by its leaf; ``registry`` is the registry a payload that leaves it out
    is signed for (a value, or a callable read per verification; None: learnt from ``proofs`` if it can find
    documents, else such payloads are refused); ``scope`` is entered around each verification (the server shares one
    database connection there and notes where its chain state came from).
    """

    def __init__(
        self,
        *,
        trust: KeyResolver,
        chain: ChainStatusReader,
        status_lists: StatusLists,
        proofs: Proofs,
        clock: Callable[[], datetime] = _utcnow,
        registry: Registry | Callable[[], Registry | None] | None = None,
        freshness: timedelta = DEFAULT_FRESHNESS,
        scope: Scope | None = None,
    ) -> None:
        self.trust = trust
        self.chain = chain
        self.status_lists = status_lists
        self.proofs = proofs
        self.clock = clock
        self._registry = registry
        self.freshness = freshness
        self._scope: Scope = scope or _no_scope
        # What the sources can do beyond the protocols' minimum, decided once (a runtime protocol check is slow).
        self._finder = proofs if isinstance(proofs, DocumentFinder) else None
        self._readers = chain if isinstance(chain, RegistryReaders) else None
        self._replacements = proofs.replacement_for if isinstance(proofs, Replacements) else None
        self._stored_metadata = proofs.metadata_for if isinstance(proofs, StoredMetadata) else None
        self._links = proofs.link_for if isinstance(proofs, Supersessions) else None
        self._offices = proofs.register_for if isinstance(proofs, OfficeRegisters) else None

    def _register_lookup(self, published: Published | None) -> RegisterLookup | None:
        """Agencies' registers of offices: the source's own (the issuer's database, the offline bundle), else the
        one a proof bundle presents; every entry is checked either way. None when there is neither."""
        own, presented = self._offices, published.register if published is not None else None
        if own is None and presented is None:
            return None

        def lookup(issuer_id: str) -> Sequence[RegisterItem] | None:
            found = own(issuer_id) if own is not None else None
            return found if found else presented

        return lookup

    def _default_registry(self) -> Registry | None:
        return self._registry() if callable(self._registry) else self._registry

    def __call__(self, request: VerifyRequest) -> Report:
        return self.verify(request)

    def verify(
        self,
        request: VerifyRequest | str | None = None,
        *,
        image: bytes | None = None,
        file: bytes | None = None,
        audience: str | None = None,
        nonce: str | None = None,
    ) -> Report:
        """Verify a QR text or link (``request`` as text), a QR ``image``, or a whole :class:`VerifyRequest`.

        Raises typed 4xx errors for input that is no payload at all; anything else is a report."""
        if not isinstance(request, VerifyRequest):
            request = VerifyRequest(payload=request, image=image, file=file, audience=audience, nonce=nonce)
        request = with_pdf_stamp(request)
        parsed = parsed_input(request)
        with self._scope(parsed) as finish:
            now = self.clock()
            if parsed.kind is PayloadKind.DOCUMENT:
                report = self._document(
                    parsed.payload, request.file, now, file_sha256=request.file_sha256, pdf_stamp=request.pdf_stamp
                )
            else:
                report = verify_credential(
                    parsed.payload,
                    self.trust,
                    self.status_lists,
                    now,
                    request.audience,
                    request.nonce,
                    self.freshness,
                )
            return finish(report)

    def verify_bundle(
        self, bundle: Mapping[str, Any], *, payload: str | None = None, file: bytes | None = None
    ) -> Report:
        """Verify a proof bundle (``GET /v1/documents/{id}/bundle``) with this verifier's trust and chain: its proof
        and metadata are only presented (recomputed and checked), and ``payload`` (a QR of the same document) may
        stand in for the bundle's own. A bundle without a proof (made before anchoring) uses ``proofs``."""
        if not isinstance(bundle, Mapping) or bundle.get("type") != BUNDLE_TYPE:
            raise BundleInvalid("not a xacthuc proof bundle")
        text = payload if payload is not None else bundle.get("payload")
        if not isinstance(text, str):
            raise BundleInvalid("payload must be the receipt payload text")
        try:
            parsed = parse_payload(text)
        except XacthucError:  # the format check reports what is wrong with it
            parsed = ParsedPayload(PayloadKind.DOCUMENT, "xd1", text)
        if parsed.kind is not PayloadKind.DOCUMENT:
            raise BundleInvalid("a proof bundle verifies a document")
        registry = bundle_registry(bundle)
        raw = bundle.get("proof")
        if raw is not None and not isinstance(raw, Mapping):
            raise BundleInvalid("proof must be an object")
        proof = None if raw is None else Proof.from_dict(raw)
        register = bundle_register(bundle)
        published = Published(
            registry,
            bundle_metadata(bundle),
            proof,
            text,
            bundle_replaced_by(bundle),
            register=None if register is None else tuple(register),
        )
        with self._scope(parsed) as finish:
            stamp = find_stamp(file) if file is not None else None
            return finish(self._document(parsed.payload, file, self.clock(), published=published, pdf_stamp=stamp))

    def _document(
        self,
        payload: str,
        file: bytes | None,
        now: datetime,
        *,
        published: Published | None = None,
        file_sha256: bytes | None = None,
        pdf_stamp: PdfStamp | None = None,
    ) -> Report:
        proofs = self.proofs
        found = published is None and self._finder is not None
        document_id = document_id_of(payload) if self._finder is not None else None
        if found and self._finder is not None:  # a payload that does not decode fails the format check
            published = self._finder.find(document_id) if document_id is not None else None
        registry = (published.registry if published is not None else None) or self._default_registry()
        chain = self.chain
        if registry is not None and self._readers is not None:
            chain = self._readers.reader_for(registry)
        presented = published.proof if published is not None else None

        def proof_source(leaf: bytes) -> Proof | None:
            # a presented proof for another document is reported by the pipeline (PROOF_LEAF_MISMATCH)
            return presented if presented is not None else proofs.proof_for(leaf)

        def replacement_hint() -> str | None:
            # Asked only for a superseded document: the service names the replacement's id, so a third party can
            # fetch it (a bundle presented by the user may predate the supersession: ask the service once more).
            if published is not None and published.replaced_by:
                return published.replaced_by
            if found or self._finder is None or document_id is None:
                return None
            again = self._finder.find(document_id)
            return again.replaced_by if again is not None else None

        return verify_document(
            payload,
            resolver=self.trust,
            proof_source=proof_source,
            chain=chain,
            now=now,
            file_bytes=file,
            registry=registry,
            replacement_lookup=self._replacements,
            links=self._links,
            replacement_hint=replacement_hint,
            metadata=published.metadata if published is not None else None,
            metadata_lookup=self._stored_metadata,
            offices=self._register_lookup(published),
            file_sha256=file_sha256,
            pdf_stamp=pdf_stamp,
            proof_presented=presented is not None,
        )
