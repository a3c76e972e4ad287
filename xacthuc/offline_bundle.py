"""The server side of the offline bundle (``GET /v1/offline-bundle``): what this server knows, read from its
database and signed with the city root key: anchored roots (with their leaves), revocations, status lists.

The source is this server's database (``ledger_batch``, ``ledger_revocation``, ``ledger_document``,
``identity_status_list``): a batch counts once it is ``confirmed`` or ``final`` (as for proofs), and so does a
revocation (a revocation still on its way to the chain is not in the bundle, as it is not on chain). ``revoked_at``
is the time of the block that confirmed the revocation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from identity.models import StatusListRow
from identity.status_list import StatusList, status_list_jwt
from keys.bootstrap import City
from keys.errors import XacthucError
from keys.protocols import Signer
from keys.trust_list import DEFAULT_TTL as DEFAULT_TRUST_TTL
from keys.validity import utc
from ledger.chain.merkle import MerkleTree
from ledger.chain.outbox import AnchorBatch, AnchorLeaf, BatchState, RevocationTx, as_utc
from ledger.documents.issuing import REASONS, DocumentRow
from ledger.documents.receipt import Registry
from ledger.offices.register import all_registers
from verifier.offline import (
    DEFAULT_TTL,
    AnchoredRoot,
    Revocation,
    offline_bundle_payload,
    sign_offline_bundle,
)

__all__ = [
    "OfflineBundleSource",
    "build_offline_bundle",
    "city_bundle_builder",
    "read_revocations",
    "read_roots",
    "read_status_lists",
]

_CONFIRMED = (BatchState.CONFIRMED.value, BatchState.FINAL.value)
STATUS_TTL = timedelta(minutes=5)


def read_roots(session: Session) -> list[AnchoredRoot]:
    """Every confirmed batch, oldest first, with the leaf hashes of its stored tree."""
    rows = session.exec(
        select(AnchorBatch).where(col(AnchorBatch.state).in_(_CONFIRMED)).order_by(col(AnchorBatch.id))
    ).all()
    roots = []
    for b in rows:
        if b.tx_hash is None or b.block_number is None or b.anchored_at is None:
            continue
        tree = MerkleTree.from_bytes(bytes(b.tree))
        roots.append(
            AnchoredRoot(
                bytes(b.root), b.account, as_utc(b.anchored_at), int(b.block_number), b.tx_hash, tuple(tree.leaf_hashes)
            )
        )
    return roots


def read_revocations(session: Session) -> list[Revocation]:
    """Every revocation confirmed on chain (as the worker saw it), with its block's time, its root, the account that
    anchored it, and its replacement's leaf and number."""
    stmt = (
        sa_select(
            col(DocumentRow.commitment),
            col(DocumentRow.revocation_reason),
            col(RevocationTx.mined_at),
            col(DocumentRow.replaced_by),
            col(AnchorBatch.account),
            col(AnchorBatch.root),
        )
        .join(RevocationTx, col(RevocationTx.document_id) == col(DocumentRow.id))
        .join(AnchorLeaf, col(AnchorLeaf.data) == col(DocumentRow.commitment))
        .join(AnchorBatch, col(AnchorLeaf.batch_id) == col(AnchorBatch.id))
        .where(col(RevocationTx.state).in_(_CONFIRMED), col(AnchorBatch.state).in_(_CONFIRMED))
        .order_by(col(RevocationTx.mined_at))
    )
    out = []
    for data, reason, revoked_at, replaced_by, agency, root in session.connection().execute(stmt).all():
        replacement_leaf: bytes | None = None
        replacement: dict[str, str] | None = None
        if replaced_by:
            found = session.exec(
                select(DocumentRow.commitment, DocumentRow.number).where(DocumentRow.id == replaced_by)
            ).first()
            if found is not None:
                replacement_leaf = bytes(found[0])
                replacement = {"number": found[1], "document_id": replaced_by}
        code = int(REASONS[reason]) if reason in REASONS else int(REASONS["other"])
        assert revoked_at is not None
        out.append(
            Revocation(agency, bytes(root), bytes(data), code, as_utc(revoked_at), replacement_leaf, replacement)
        )
    return out


def read_status_lists(
    session: Session,
    signer_for: Callable[[str], Signer],
    *,
    status_base_url: str,
    now: datetime,
    lifetime: timedelta,
) -> dict[str, str]:
    """Every status list, as the token its issuer signs for ``GET /v1/status-lists/{id}``, living ``lifetime``.

    An issuer without a usable key (disabled, removed) is left out: its credentials are untrusted anyway.
    """
    base = status_base_url.rstrip("/")
    tokens: dict[str, str] = {}
    signers: dict[str, Signer | None] = {}
    for row in session.exec(select(StatusListRow).order_by(col(StatusListRow.id))).all():
        if row.issuer_id not in signers:
            try:
                signers[row.issuer_id] = signer_for(row.issuer_id)
            except XacthucError:
                signers[row.issuer_id] = None
        signer = signers[row.issuer_id]
        if signer is None:
            continue
        uri = f"{base}/{row.id}"
        tokens[uri] = status_list_jwt(
            signer,
            StatusList(row.size, bytes(row.bits)),
            uri=uri,
            issuer=row.issuer_id,
            now=now,
            ttl=STATUS_TTL,
            lifetime=lifetime,
        )
    return tokens


def build_offline_bundle(
    session: Session,
    *,
    root_signer: Signer,
    trust_list: str,
    registry: Registry | None,
    block: int | None,
    signer_for: Callable[[str], Signer],
    status_base_url: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """The signed offline bundle from this server's database: the trust list as given, every issuer's status lists
    (signed by their issuers, living at least ``ttl``), and the registry state (confirmed roots with their leaves,
    recorded revocations). ``block`` is the chain's head when known (else the newest anchor's block)."""
    now = utc(now).replace(microsecond=0)
    status_lists = read_status_lists(
        session, signer_for, status_base_url=status_base_url, now=now, lifetime=max(ttl, timedelta(days=1))
    )
    roots = read_roots(session) if registry is not None else []
    revocations = read_revocations(session) if registry is not None else []
    offices = all_registers(session) if registry is not None else {}
    payload = offline_bundle_payload(
        trust_list=trust_list,
        status_lists=status_lists,
        registry=registry,
        block=block,
        roots=roots,
        revocations=revocations,
        now=now,
        ttl=ttl,
        offices=offices,
    )
    return sign_offline_bundle(root_signer, payload)


class OfflineBundleSource:
    """The server side of ``GET /v1/offline-bundle``: builds the bundle at most once per ``max_age`` (a burst of
    downloads reuses it) and never serves one with less than half its lifetime left. A move of ``generation``
    (the keystore's: a rotated key, a new agency) rebuilds at once, so a key is in the bundle before it signs."""

    def __init__(
        self,
        build: Callable[[datetime], str],
        clock: Callable[[], datetime],
        max_age: timedelta = timedelta(minutes=2),
        generation: Callable[[], Hashable] | None = None,
    ) -> None:
        self._build = build
        self._clock = clock
        self.max_age = max_age
        self._generation = generation or (lambda: None)
        self._lock = threading.Lock()
        self._cached: tuple[datetime, Hashable, str] | None = None

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            mark = self._generation()
            cached = self._cached
            if cached is not None and timedelta(0) <= now - cached[0] < self.max_age and cached[1] == mark:
                return cached[2]
            token = self._build(now)
            self._cached = (now, mark, token)
            return token


def city_bundle_builder(
    *,
    engine: Engine,
    city: Callable[[], City],
    registry: Callable[[], Any],
    status_base_url: str,
    ttl: timedelta = DEFAULT_TTL,
) -> Callable[[datetime], str]:
    """``build(now)`` for :class:`OfflineBundleSource` from the composition root's parts: the city (root key, trust
    list, issuers' keys), the registry client (``chain_id``, ``address``, ``block_number``; raising when there is no
    chain) and the database."""

    def build(now: datetime) -> str:
        c = city()
        reg: Registry | None = None
        block: int | None = None
        try:
            client = registry()
            reg = Registry.of(int(client.chain_id), str(client.address))
        except XacthucError:
            client = None
        if client is not None:
            try:
                block = int(client.block_number)
            except Exception:  # the chain is down: the database's state is still current; report its newest block
                block = None
        with Session(engine) as session:
            return build_offline_bundle(
                session,
                root_signer=c.root_signer,
                trust_list=c.build_trust_list(now, ttl=max(ttl, DEFAULT_TRUST_TTL)),
                registry=reg,
                block=block,
                signer_for=lambda agency_id: c.keyring(agency_id).signer(now),
                status_base_url=status_base_url,
                now=now,
                ttl=ttl,
            )

    return build
