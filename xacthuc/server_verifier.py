"""The server's verifier: ``verifier.Verifier`` over this server's own sources (``POST /v1/verify``, the pages).

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlmodel import Session

from identity.models import StatusListRow
from identity.service import status_list_token
from keys.bootstrap import ROOT_RING, city_exists
from keys.errors import CityNotFound, KeyNotFound, XacthucError
from keys.generate import generate_signing_key
from keys.keyring import AgencyProfile, KeyRecord
from keys.trust_list import RefreshingTrustList, TrustList, sign_trust_list, verify_trust_list
from keys.validity import ACTIVE
from ledger._driver_select import DriverSelect
from ledger.chain.index import IndexedStatusReader, StateSource
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, as_utc
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof, RevocationReason
from ledger.chain.reader import RegistryReader
from ledger.chain.stored_proofs import stored_proof
from ledger.documents.issuing import REASONS, DocumentRow
from ledger.documents.receipt import Registry
from ledger.documents.status import replacement_for, successor_of
from ledger.errors import ChainUnavailable
from ledger.offices.register import register_items_on
from verifier.dispatch import VerifyRequest
from verifier.payload import ParsedPayload, PayloadKind
from verifier.report import Report
from verifier.service import Verifier
from verifier.sources import Link
from verifier.third_party import http_status_lists
from xacthuc.chainsetup import connect, recorded_registry
from xacthuc.metrics import count_verdict
from xacthuc.services import Role, Services, build_services
from xacthuc.settings import Settings

__all__ = [
    "TRUST_TTL",
    "ProofSource",
    "ServerVerifier",
    "StatusUnavailable",
    "data_dir_root_jwk",
    "data_dir_trust_list",
    "data_dir_verifier",
    "stored_metadata",
]

TRUST_TTL = timedelta(seconds=30)


class StatusUnavailable(XacthucError):
    """The status list is not one this server publishes."""

    code = "STATUS_UNAVAILABLE"
    http_status = 503


class _NoChain:
    """The chain seam when no registry is configured: every read fails, so no verdict is ever ``valid``."""

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise ChainUnavailable("no chain is configured")


class _NoWait:
    """Set while a verification runs on the event loop (``ServerVerifier.verify_now``): it must not wait on the
    network, so a read only the chain can answer marks it ``needed`` and fails, and the route runs it again in a
    worker thread."""

    def __init__(self) -> None:
        self.needed = False

    def give_up(self) -> ChainUnavailable:
        self.needed = True
        return ChainUnavailable("only the chain can answer now: verified again in a worker thread")


class _Recorded:
    """One verification's chain reader, remembering where its answer came from (for the report)."""

    def __init__(
        self, reader: ChainStatusReader, conn: Connection | None = None, no_wait: _NoWait | None = None
    ) -> None:
        self.reader = reader
        self.conn = conn
        self.no_wait = no_wait
        self.source: StateSource | None = None

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        if isinstance(self.reader, IndexedStatusReader):
            found = self.reader.read(agency, root, data, self.conn, fallback=self.no_wait is None)
            if found is None:
                assert self.no_wait is not None
                raise self.no_wait.give_up()
            status, self.source = found
            return status
        if self.no_wait is not None:
            raise self.no_wait.give_up()
        status = self.reader.status(agency, root, data)
        self.source = StateSource("chain")
        return status


_CHAIN_CHECKS = ("anchored", "not_revoked")


_OWN_RECORD = " (this server's own record: the agency's revocation is accepted and on its way to the chain)"


def _with_source(report: Report, source: StateSource | None, own_record: bool = False) -> Report:
    """The chain checks, annotated with where their state came from (and the index's block and sync time)."""
    if own_record:
        for i, check in enumerate(report.checks):
            if check.name == "not_revoked" and check.status == "invalid":
                data = {**check.data, "revocation_source": "server_record"}
                report.checks[i] = replace(check, message=check.message + _OWN_RECORD, data=data)
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


_AnyRow = Row[*tuple[Any, ...]]  # a row of _DOCUMENT's columns
_D: Table = DocumentRow.__table__  # type: ignore[attr-defined]
_L: Table = AnchorLeaf.__table__  # type: ignore[attr-defined]
_B: Table = AnchorBatch.__table__  # type: ignore[attr-defined]
_COMMITMENT = select(_D.c.commitment).where(_D.c.id == bindparam("id"))
# What one document verification reads of this database, in one statement: the proof's columns (outer-joined, so a
# pending document still has its row), the stored metadata and the revocation this server recorded.
_DOCUMENT = DriverSelect(
    select(
        _D.c.chain_id,
        _D.c.contract,
        _B.c.id,
        _B.c.root,
        _B.c.state,
        _B.c.tx_hash,
        _B.c.block_number,
        _B.c.anchored_at,
        _D.c.metadata_json,
        _D.c.revoked_at,
        _D.c.revocation_reason,
        _D.c.replaced_by,
    )
    .select_from(_D.outerjoin(_L, _L.c.data == _D.c.commitment).outerjoin(_B, _B.c.id == _L.c.batch_id))
    .where(_D.c.commitment == bindparam("leaf"))
)


def _metadata_of(row: _AnyRow | None) -> dict[str, Any] | None:
    """The metadata stored with a document, from its ``_DOCUMENT`` row (None: no such document, or none stored)."""
    if row is None or row.metadata_json is None:
        return None
    value: dict[str, Any] = json.loads(row.metadata_json)
    return value


def stored_metadata(conn: Connection, leaf: bytes) -> dict[str, Any] | None:
    """The metadata this server stored with the document whose commitment is ``leaf`` (for ``metadata_matches``)."""
    return _metadata_of(_DOCUMENT.first(conn, {"leaf": leaf}))


class ProofSource:
    """``ledger.documents.status.proof_for`` for the verify route, without its per-request cost.

    Profiling showed the proof lookup at about 60 % of a verification: two ORM queries, the whole batch row loaded
    (its signed transaction and tree blobs), and the stored tree parsed for one path. Here one SQL statement reads
    the document with its batch's columns, and the parsed tree is kept (``ledger.chain.stored_proofs``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, leaf: bytes, conn: Connection | None = None) -> Proof | None:
        if conn is not None:
            return self.of_row(conn, _DOCUMENT.first(conn, {"leaf": leaf}), leaf)
        with self.engine.connect() as own:
            return self.of_row(own, _DOCUMENT.first(own, {"leaf": leaf}), leaf)

    @staticmethod
    def of_row(conn: Connection, row: _AnyRow | None, leaf: bytes) -> Proof | None:
        """The proof from the document's ``_DOCUMENT`` row, None unless its batch is anchored."""
        return None if row is None else stored_proof(conn, leaf, row)


class _Request:
    """What one document verification shares: a database connection and the chain reader that records its source."""

    def __init__(self, conn: Connection, chain: _Recorded, registry: Registry | None) -> None:
        self.conn = conn
        self.chain = chain
        self.registry = registry
        self._documents: dict[bytes, _AnyRow | None] = {}
        self.from_own_record = False  # the revocation reported is this server's record, not yet the chain's

    def own_revocation(self, status: DocumentChainStatus, leaf: bytes) -> DocumentChainStatus:
        """The chain's answer, with the revocation this server recorded for the document when the chain lacks it.

        The agency's revocation is this server's record from the moment it is accepted; the chain carries it only
        once the worker's transaction is mined, and a re-organisation can take it out again until the worker sends
        it anew. Meanwhile this server never answers ``valid`` for a document it knows is revoked. (A third-party
        verifier, reading only the chain, sees it once it is there again.)
        """
        if status.revoked or not status.anchored:
            return status  # the chain's own revocation, or nothing anchored that could be current
        row = self.document(leaf)
        if row is None or row.revoked_at is None:
            return status
        replaced = None
        if row.replaced_by is not None:
            replaced = self.conn.execute(_COMMITMENT, {"id": row.replaced_by}).scalar_one_or_none()
        self.from_own_record = True
        return replace(
            status,
            reason=REASONS.get(row.revocation_reason or "", RevocationReason.OTHER),
            revoked_at=as_utc(row.revoked_at),
            replaced_by=None if replaced is None else bytes(replaced),
        )

    def document(self, leaf: bytes) -> _AnyRow | None:
        """The document's ``_DOCUMENT`` row, read once per verification (the proof and the metadata checks share it;
        a chain of supersessions reads each link's own)."""
        if leaf not in self._documents:
            self._documents[leaf] = _DOCUMENT.first(self.conn, {"leaf": leaf})
        return self._documents[leaf]


class _ServerRecords:
    """The server's proofs, stored metadata and replacements (``verifier.sources``), over the request's connection."""

    def __init__(self, engine: Engine, request: ContextVar[_Request | None]) -> None:
        self.engine = engine
        self.proofs = ProofSource(engine)
        self._request = request

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session on the request's connection (one pool checkout a verification), or its own outside one."""
        request = self._request.get()
        with Session(request.conn if request is not None else self.engine) as session:
            yield session

    def proof_for(self, leaf: bytes) -> Proof | None:
        request = self._request.get()
        if request is None:
            return self.proofs(leaf)
        return self.proofs.of_row(request.conn, request.document(leaf), leaf)

    def metadata_for(self, leaf: bytes) -> dict[str, Any] | None:
        request = self._request.get()
        if request is None:
            with self.engine.connect() as own:
                return stored_metadata(own, leaf)
        return _metadata_of(request.document(leaf))

    def replacement_for(self, leaf: bytes) -> dict[str, Any] | None:
        with self._session() as session:
            return replacement_for(session, leaf)

    def register_for(self, issuer_id: str) -> list[tuple[str, Proof | None]]:
        """The agency's register of offices (``verifier.signer_authority``): each entry with its proof."""
        request = self._request.get()
        if request is not None:
            return register_items_on(request.conn, issuer_id)
        with self.engine.connect() as own:
            return register_items_on(own, issuer_id)

    def link_for(self, leaf: bytes, document_id: str | None) -> Link | None:
        """A replacement as this database knows it (its receipt payload and proof), to follow a chain of
        supersessions; the pipeline binds the payload to ``leaf`` and reads the chain under its issuer's account."""
        with self._session() as session:
            found = successor_of(session, leaf)
        if found is None:
            return None
        return Link(leaf, proof=self.proof_for(leaf), payload=found[0], replaced_by=found[1])


class _ServerChain:
    """The request's recording chain reader (``ChainStatusReader``)."""

    def __init__(self, request: ContextVar[_Request | None]) -> None:
        self._request = request

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        request = self._request.get()
        if request is None:
            raise ChainUnavailable("no verification is under way")
        return request.own_revocation(request.chain.status(agency, root, data), data)


class ServerVerifier(Verifier):
    """Verifies what ``POST /v1/verify`` receives, with this server's own sources: the trust list built from its
    keystore, proofs and metadata from its database, the chain index or registry, its own status lists."""

    def __init__(self, services: Services, trust_ttl: timedelta = TRUST_TTL) -> None:
        self.services = services
        city = services.require_city
        self._request: ContextVar[_Request | None] = ContextVar(f"xacthuc_verify_{id(self)}", default=None)
        self._no_wait: ContextVar[_NoWait | None] = ContextVar(f"xacthuc_no_wait_{id(self)}", default=None)
        #: Whether ``verify_now`` may answer: only where the database is a local file (a PostgreSQL round trip
        #: would stall the event loop).
        self.answers_now = services.engine.dialect.name == "sqlite"
        self._registry_cache: Registry | None = None
        self._loop_connection: Connection | None = None  # verify_now's (see _connection)
        self.records = _ServerRecords(services.engine, self._request)
        super().__init__(
            trust=RefreshingTrustList(
                lambda: city().build_trust_list(services.clock()),
                lambda: city().root_jwk(),
                services.clock,
                max_age=trust_ttl,
                generation=self._keystore_generation,
            ),
            chain=_ServerChain(self._request),
            status_lists=self._status_list,
            proofs=self.records,
            clock=services.clock,
            registry=self._configured_registry,
            freshness=timedelta(seconds=services.settings.kb_freshness_seconds),
            scope=self._scope,
        )

    def verify(self, *args: Any, **kwargs: Any) -> Report:
        report = super().verify(*args, **kwargs)
        count_verdict(report)  # every verification this server answers: the API's, the pages', OpenID4VP's
        return report

    def verify_now(self, request: VerifyRequest) -> Report | None:
        """The verification, if it can be answered without waiting on the network; else None.

        ``POST /v1/verify`` calls it on the event loop, which saves the hand-off to a worker thread: measured, that
        hand-off cost more CPU than the verification's own reads (docs/benchmarks.md). It answers only on a local
        (SQLite) database, with the registry known and the chain index fresh; a read only the chain can answer
        gives up at once (nothing is counted or changed: a verification only reads), and the caller runs
        ``__call__`` in a worker thread, where waiting is harmless.
        """
        if not self.answers_now or self._registry_cache is None:
            return None
        flag = _NoWait()
        token = self._no_wait.set(flag)
        try:
            report = Verifier.verify(self, request)
        finally:
            self._no_wait.reset(token)
        if flag.needed:
            return None
        count_verdict(report)
        return report

    def _keystore_generation(self) -> str:
        return self.services.require_city().keystore.generation()

    def trust_list(self) -> TrustList:
        """The server's current trust list (the one it publishes in bundles)."""
        assert isinstance(self.trust, RefreshingTrustList)
        return self.trust.current()

    def registry(self) -> Registry:
        """The configured registry (cached: its chain id and address never change while the process runs)."""
        if self._registry_cache is None:
            client = self.services.registry()
            self._registry_cache = Registry.of(client.chain_id, client.address)
        return self._registry_cache

    def _configured_registry(self) -> Registry | None:
        request = self._request.get()
        return request.registry if request is not None else None

    @contextmanager
    def _scope(self, parsed: ParsedPayload) -> Iterator[Callable[[Report], Report]]:
        assert isinstance(self.trust, RefreshingTrustList)
        self.trust.current()  # rebuilt here if the keystore changed; lookups then refresh only for unknown keys
        if parsed.kind is not PayloadKind.DOCUMENT:
            yield _unchanged
            return
        # One connection for the proof and the chain index: a pool checkout each (and a ping on PostgreSQL) showed.
        with self._connection() as conn:
            try:
                registry: Registry | None = self.registry()
                chain = _Recorded(self.services.chain_reader(), conn, self._no_wait.get())
            except XacthucError:
                registry, chain = None, _Recorded(_NoChain())
            request = _Request(conn, chain, registry)
            token = self._request.set(request)
            try:
                yield lambda report: _with_source(report, chain.source, request.from_own_record)
            finally:
                self._request.reset(token)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A verification's connection: from the pool, or on the event loop (``verify_now``: one verification at a
        time, never waiting) the loop's own, kept open between verifications. Its reads hold nothing afterwards
        (the driver's cursors are closed, a transaction is rolled back), so each verification reads what is
        committed when it runs and a checkpoint never waits on it."""
        if self._no_wait.get() is None:
            with self.services.engine.connect() as pooled:
                yield pooled
            return
        kept = self._loop_connection
        if kept is None or kept.closed or kept.invalidated:
            kept = self._loop_connection = self.services.engine.connect()
        try:
            yield kept
        finally:
            if kept.in_transaction():
                kept.rollback()

    def _status_list(self, uri: str) -> str:
        base = self.services.settings.public_url + "/v1/status-lists"
        list_id = uri.removeprefix(base + "/")
        if list_id == uri or "/" in list_id or len(list_id) > 36:
            raise StatusUnavailable("the status list is not published by this server")
        now = self.services.clock()
        with Session(self.services.engine) as session:
            row = session.get(StatusListRow, list_id)
            if row is None:
                raise StatusUnavailable("no such status list")
            signer = self.services.require_city().keyring(row.issuer_id).signer(now)
            return status_list_token(session, list_id, signer, status_base_url=base, now=now)


def _unchanged(report: Report) -> Report:
    return report


# --------------------------------------------------------------------------------------- xacthuc verify --data-dir
def _ring_records(data_dir: Path) -> list[dict[str, Any]]:
    """The key rings' public records (JWKs, validity, profiles), read as stored: the keystore stays locked, so their
    MACs go unchecked (whoever can write this data dir decides what it trusts anyway)."""
    rings = []
    for path in sorted((data_dir / "keys" / "records").glob("ring-*.json")):
        data = json.loads(path.read_text(encoding="utf-8")).get("data")
        if isinstance(data, dict):
            rings.append(data)
    return rings


def data_dir_root_jwk(data_dir: Path) -> dict[str, Any]:
    """The city root public key (the newest active one) from the data dir, without unlocking its keystore."""
    if not city_exists(data_dir):
        raise CityNotFound(f"no city in {data_dir}: it has no keystore", data_dir=str(data_dir))
    for ring in _ring_records(data_dir):
        if ring.get("agency_id") == ROOT_RING:
            keys = [KeyRecord.from_json(k) for k in ring.get("keys", [])]
            active = [k for k in keys if k.status == ACTIVE]
            if active:
                return dict(max(active, key=lambda k: k.not_before).jwk)
    raise KeyNotFound("the city has no active root key")


def data_dir_trust_list(data_dir: Path, now: datetime) -> TrustList:
    """The trust list of the city in ``data_dir``, from its key rings' public records: what the server publishes,
    checked by the same rules (``verify_trust_list``). It is signed here with a throwaway key, only to go through
    those rules: the data dir itself is what this verifier trusts."""
    entries = []
    for ring in _ring_records(data_dir):
        if ring.get("profile") is not None:
            entries.append(
                (AgencyProfile.from_json(ring["profile"]), [KeyRecord.from_json(k) for k in ring.get("keys", [])])
            )
    throwaway = generate_signing_key("ES256")
    return verify_trust_list(sign_trust_list(throwaway, entries, now, 0), throwaway.public_jwk(), now)


class _LazyChain:
    """The registry through ``XACTHUC_RPC_URL``, ``--rpc-url`` or the running server's embedded node, connected at
    the first read (a citizen ID needs no chain); never a node of its own."""

    def __init__(self, settings: Settings, registry: Registry | None) -> None:
        self.settings = settings
        self.registry = registry
        self._reader: ChainStatusReader | None = None

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        if self._reader is None:
            if self.registry is None:
                raise ChainUnavailable("the data dir records no registry (registry.json or XACTHUC_REGISTRY_ADDRESS)")
            handle = connect(self.settings, start_node=False)
            self._reader = RegistryReader(handle.w3, self.registry.hex_address)
        return self._reader.status(agency, root, data)


def _recorded_registry(settings: Settings) -> Registry | None:
    try:
        return recorded_registry(settings)
    except XacthucError:  # the configured RPC URL did not answer its chain id: the configured one, then
        return Registry.of(settings.chain_id, settings.registry_address) if settings.registry_address else None


@contextmanager
def data_dir_verifier(settings: Settings) -> Iterator[Verifier]:
    """``xacthuc verify --data-dir``: the city's public keys and its database, both read only, and the chain through
    an RPC URL (``XACTHUC_RPC_URL``, or the embedded node of the server running on this data dir). It never unlocks
    the keystore, writes to the database or starts a node; status lists are fetched where credentials name them."""
    services = build_services(settings, role=Role.VERIFIER)  # CITY_NOT_FOUND, nothing written, for a stray dir
    registry = _recorded_registry(settings)
    no_request: ContextVar[_Request | None] = ContextVar("xacthuc_no_request", default=None)
    try:
        yield Verifier(
            trust=data_dir_trust_list(settings.data_dir, services.clock()),
            chain=_LazyChain(settings, registry),
            status_lists=http_status_lists(timeout=settings.rpc_timeout),
            proofs=_ServerRecords(services.engine, no_request),
            clock=services.clock,
            registry=registry,
            freshness=timedelta(seconds=settings.kb_freshness_seconds),
        )
    finally:
        services.close()
