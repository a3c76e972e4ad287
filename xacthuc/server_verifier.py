"""The server's verifier: ``POST /v1/verify`` and ``xacthuc verify`` with this server's own sources.

The server verifies against a trust list it builds from its own keystore and then verifies like any third party
(``verify_trust_list`` against the city root). The list is rebuilt as soon as the keystore's ``generation`` moves
(a ``keys rotate`` or ``agency create`` in another process), at least every ``TRUST_TTL``, and once, rate-limited,
when a receipt names a key it lacks (``RefreshingTrustList``). Proofs come from its database, the
revocation state from the chain index while it runs and is fresh (else one ``eth_call``: ``Services.chain_reader``),
citizen ID status lists from its own database. The report's ``anchored`` and ``not_revoked`` checks say where the
chain state came from and, from the index, which block it is current to and when it was synced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from identity.models import StatusListRow
from identity.service import status_list_token
from keys.errors import XacthucError
from keys.trust_list import RefreshingTrustList, TrustList
from ledger.chain.index import IndexedStatusReader, StateSource
from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, BatchState, as_utc
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof
from ledger.documents.issuing import DocumentRow
from ledger.documents.receipt import Registry
from ledger.documents.status import replacement_for
from ledger.errors import ChainUnavailable
from verifier.credential import verify_credential
from verifier.dispatch import VerifyRequest, parsed_input
from verifier.document import verify_document
from verifier.payload import PayloadKind
from verifier.report import Report
from xacthuc.services import Services

__all__ = ["TRUST_TTL", "ProofSource", "ServerVerifier", "StatusUnavailable", "stored_metadata"]

TRUST_TTL = timedelta(seconds=30)


class StatusUnavailable(XacthucError):
    """The status list is not one this server publishes."""

    code = "STATUS_UNAVAILABLE"
    http_status = 503


class _NoChain:
    """The chain seam when no registry is configured: every read fails, so no verdict is ever ``valid``."""

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise ChainUnavailable("no chain is configured")


class _Recorded:
    """One verification's chain reader, remembering where its answer came from (for the report)."""

    def __init__(self, reader: ChainStatusReader, conn: Connection | None = None) -> None:
        self.reader = reader
        self.conn = conn
        self.source: StateSource | None = None

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        if isinstance(self.reader, IndexedStatusReader):
            status, self.source = self.reader.read(agency, root, data, self.conn)
            return status
        status = self.reader.status(agency, root, data)
        self.source = StateSource("chain")
        return status


_CHAIN_CHECKS = ("anchored", "not_revoked")


def _with_source(report: Report, source: StateSource | None) -> Report:
    """The chain checks, annotated with where their state came from (and the index's block and sync time)."""
    if source is None:
        return report
    state = source.to_dict()
    for i, check in enumerate(report.checks):
        if check.name in _CHAIN_CHECKS and check.status in ("valid", "invalid"):
            message = check.message
            if source.block is not None and check.name == "not_revoked":
                message += f" (revocation state current to block {state['block']}, synced at {state['synced_at']})"
            report.checks[i] = replace(check, message=message, data={**check.data, "chain_state": state})
    return report


_D: Table = DocumentRow.__table__  # type: ignore[attr-defined]
_L: Table = AnchorLeaf.__table__  # type: ignore[attr-defined]
_B: Table = AnchorBatch.__table__  # type: ignore[attr-defined]
_PROOF = (
    select(
        _D.c.chain_id,
        _D.c.contract,
        _B.c.id,
        _B.c.root,
        _B.c.state,
        _B.c.tx_hash,
        _B.c.block_number,
        _B.c.anchored_at,
    )
    .select_from(_D.join(_L, _L.c.data == _D.c.commitment).join(_B, _B.c.id == _L.c.batch_id))
    .where(_D.c.commitment == bindparam("leaf"))
)
_CONFIRMED = (BatchState.CONFIRMED.value, BatchState.FINAL.value)
_METADATA = select(_D.c.metadata_json).where(_D.c.commitment == bindparam("leaf"))


def stored_metadata(conn: Connection, leaf: bytes) -> dict[str, Any] | None:
    """The metadata this server stored with the document whose commitment is ``leaf`` (for ``metadata_matches``)."""
    raw = conn.execute(_METADATA, {"leaf": leaf}).scalar_one_or_none()
    if raw is None:
        return None
    value: dict[str, Any] = json.loads(raw)
    return value


class ProofSource:
    """``ledger.documents.status.proof_for`` for the verify route, without its per-request cost.

    Profiling showed the proof lookup at about 60 % of a verification: two ORM queries, the whole batch row loaded
    (its signed transaction and tree blobs), and the stored tree of up to 65,536 leaves parsed for one path. Here one
    SQL statement reads the few columns that change (the batch's state, tx, block, time: a re-organisation changes
    them), and the parsed tree comes from a small cache keyed by batch id and root: a batch's tree is written once,
    when the batch is cut, and its root is its hash, so a cached tree is always the stored one.
    """

    def __init__(self, engine: Engine, trees: int = 32) -> None:
        self.engine = engine
        self._tree = lru_cache(maxsize=trees)(self._load_tree)

    def __call__(self, leaf: bytes, conn: Connection | None = None) -> Proof | None:
        if conn is not None:
            row = conn.execute(_PROOF, {"leaf": leaf}).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(_PROOF, {"leaf": leaf}).first()
        if row is None or row.state not in _CONFIRMED:
            return None
        if row.tx_hash is None or row.block_number is None or row.anchored_at is None:
            return None
        tree = self._tree(row.id, bytes(row.root))
        return Proof(
            root=bytes(row.root),
            path=tree.proof(tree.index_of(leaf)),
            leaf=leaf,
            chain_id=int(row.chain_id),
            contract=row.contract,
            tx_hash=row.tx_hash,
            block=int(row.block_number),
            anchored_at=as_utc(row.anchored_at),
        )

    def _load_tree(self, batch_id: int, root: bytes) -> MerkleTree:
        with self.engine.connect() as conn:
            blob = conn.execute(select(_B.c.tree).where(_B.c.id == batch_id, _B.c.root == root)).scalar_one()
        return MerkleTree.from_bytes(bytes(blob))


def _replacement(engine: Engine, leaf: bytes) -> dict[str, Any] | None:
    with Session(engine) as session:
        return replacement_for(session, leaf)


class ServerVerifier:
    """Verifies what ``POST /v1/verify`` and ``xacthuc verify`` receive, with this server's own sources."""

    def __init__(self, services: Services, trust_ttl: timedelta = TRUST_TTL) -> None:
        self.services = services
        city = services.require_city
        self.trust = RefreshingTrustList(
            lambda: city().build_trust_list(services.clock()),
            lambda: city().root_jwk(),
            services.clock,
            max_age=trust_ttl,
            generation=self._keystore_generation,
        )
        self._registry: Registry | None = None
        self.proofs = ProofSource(services.engine)

    def _keystore_generation(self) -> str:
        return self.services.require_city().keystore.generation()

    def trust_list(self) -> TrustList:
        """The server's current trust list (the one it publishes in bundles)."""
        return self.trust.current()

    def registry(self) -> Registry:
        """The configured registry (cached: its chain id and address never change while the process runs)."""
        if self._registry is None:
            client = self.services.registry()
            self._registry = Registry.of(client.chain_id, client.address)
        return self._registry

    def __call__(self, request: VerifyRequest) -> Report:
        parsed = parsed_input(request)
        now = self.services.clock()
        self.trust.current()  # rebuilt here if the keystore changed; lookups then refresh only for unknown keys
        if parsed.kind is PayloadKind.DOCUMENT:
            return self._document(parsed.payload, request.file, now)
        with Session(self.services.engine) as session:
            return verify_credential(
                parsed.payload,
                self.trust,
                self._status_fetcher(session, now),
                now,
                request.audience,
                request.nonce,
                timedelta(seconds=self.services.settings.kb_freshness_seconds),
            )

    def _document(self, payload: str, file: bytes | None, now: datetime) -> Report:
        engine = self.services.engine
        # One connection for the proof and the chain index: a pool checkout each (and a ping on PostgreSQL) showed.
        with engine.connect() as conn:
            try:
                registry: Registry | None = self.registry()
                chain = _Recorded(self.services.chain_reader(), conn)
            except XacthucError:
                registry, chain = None, _Recorded(_NoChain())
            report = verify_document(
                payload,
                resolver=self.trust,
                proof_source=lambda leaf: self.proofs(leaf, conn),
                chain=chain,
                now=now,
                file_bytes=file,
                registry=registry,
                replacement_lookup=lambda leaf: _replacement(engine, leaf),
                metadata_lookup=lambda leaf: stored_metadata(conn, leaf),
            )
        return _with_source(report, chain.source)

    def _status_fetcher(self, session: Session, now: datetime) -> Callable[[str], str]:
        base = self.services.settings.public_url + "/v1/status-lists"

        def fetch(uri: str) -> str:
            list_id = uri.removeprefix(base + "/")
            if list_id == uri or "/" in list_id or len(list_id) > 36:
                raise StatusUnavailable("the status list is not published by this server")
            row = session.get(StatusListRow, list_id)
            if row is None:
                raise StatusUnavailable("no such status list")
            signer = self.services.require_city().keyring(row.issuer_id).signer(now)
            return status_list_token(session, list_id, signer, status_base_url=base, now=now)

        return fetch
