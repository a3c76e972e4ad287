"""A local index of the registry's ``Anchored`` and ``Revoked`` events, so a verification needs no chain round trip.

``ChainIndexer.sync`` follows the chain from its cursor to the head in bounded ranges (one ``eth_getLogs`` per
range for both events), and writes each range's rows and the advanced cursor in one transaction. The cursor keeps
the last indexed block's number and hash: every range first checks that the stored block is still on the chain, and
a mismatch (a re-organisation) rewinds the index ``REORG_DEPTH`` blocks and follows the new chain from there.

``IndexedStatusReader`` answers ``status(agency, root, data)`` from the index, and only while the index is fresh:
synced with the chain head within ``max_age``. Otherwise it raises ``ChainIndexStale`` (a ``ChainUnavailable``, so
the verdict is ``error``), or asks a fallback reader (``ledger.chain.reader.RegistryReader``: a direct ``eth_call``)
when one is given. The freshness test and the rows come from one SQL statement, so a concurrent rewind (which clears
``updated_at`` with the rows it deletes) is never read as fresh. Revocation latency is therefore bounded by
``max_age`` (plus nothing: a stale index is not used). Rows are keyed like the registry's records, by agency and
root: the reader answers for the agency asked about (the issuer's account), never with another account's anchor of
the same root.

The tables hold one registry's index (the cursor names it): indexing another registry (a new dev chain) starts by
emptying them, so no anchor of a vanished chain ever answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from sqlalchemy import BigInteger, Column, LargeBinary, SmallInteger, Table, and_, bindparam, delete, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel

from ledger._driver_select import DriverSelect
from ledger.chain._index_rpc import ChainReads, Log
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, reason_of
from ledger.chain.reader import RegistryReader
from ledger.errors import ChainUnavailable

__all__ = [
    "REORG_DEPTH",
    "ChainCursor",
    "ChainIndexStale",
    "ChainIndexer",
    "IndexState",
    "IndexedAnchor",
    "IndexedRevocation",
    "IndexedStatusReader",
    "StateSource",
]

log = logging.getLogger("xacthuc.chain_index")

#: How far a detected re-organisation rewinds the index (Ethereum mainnet finalises within about 64-95 blocks;
#: BFT networks never re-organise). A deeper re-organisation is beyond this design.
REORG_DEPTH = 64
#: Blocks per ``eth_getLogs``: providers commonly cap ranges at a few thousand blocks.
LOG_RANGE = 2_000


# ----------------------------------------------------------------------------------------------------------- tables
class IndexedAnchor(SQLModel, table=True):
    """An ``Anchored`` event: who anchored the root (lowercase address), when (its block's time), its batch size,
    block and tx. Keyed like the registry, by agency and root: another account's anchor of a root is its own row."""

    __tablename__ = "ledger_chain_anchor"

    agency: str = Field(primary_key=True, max_length=42)
    root: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    anchored_at: datetime
    count: int = Field(sa_column=Column(BigInteger, nullable=False))
    block: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    tx: str = Field(max_length=66)


class IndexedRevocation(SQLModel, table=True):
    """A ``Revoked`` event: document ``data`` under the ``root`` that ``agency`` (lowercase address) anchored, its
    reason, time (its block's), replacement, block."""

    __tablename__ = "ledger_chain_revocation"

    agency: str = Field(primary_key=True, max_length=42)
    root: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    reason: int = Field(sa_column=Column(SmallInteger, nullable=False))
    revoked_at: datetime
    replaced_by: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    block: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class ChainCursor(SQLModel, table=True):
    """How far the index follows the registry ``contract`` on ``chain_id``.

    ``block``/``block_hash``: the last indexed block (``block_hash`` None before the first one). ``updated_at``: the
    time the chain head was read by the last sync that reached it (None after a rewind, until caught up again).
    """

    __tablename__ = "ledger_chain_cursor"

    contract: str = Field(primary_key=True, max_length=42)
    chain_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    block: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_hash: str | None = Field(default=None, max_length=66)
    updated_at: datetime | None = None


_A_TABLE: Table = IndexedAnchor.__table__  # type: ignore[attr-defined]
_R_TABLE: Table = IndexedRevocation.__table__  # type: ignore[attr-defined]
_C_TABLE: Table = ChainCursor.__table__  # type: ignore[attr-defined]
_A, _R, _C = _A_TABLE.c, _R_TABLE.c, _C_TABLE.c


# ------------------------------------------------------------------------------------------------------------ state
@dataclass(frozen=True)
class IndexState:
    """What the index is current to: every event up to ``block`` is in it, as of the chain head at ``synced_at``."""

    chain_id: int
    contract: str
    block: int
    block_hash: str | None
    synced_at: datetime | None
    head: int | None = None

    def fresh(self, now: datetime, max_age: timedelta) -> bool:
        return self.synced_at is not None and now - self.synced_at <= max_age

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "synced_at": _iso(self.synced_at), "head": self.head}


@dataclass(frozen=True)
class StateSource:
    """Where a status answer came from: the ``index`` (current to ``block`` as of ``synced_at``) or the ``chain``."""

    source: str
    block: int | None = None
    synced_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.block is not None:
            out["block"] = self.block
            out["synced_at"] = _iso(self.synced_at)
        return out


class ChainIndexStale(ChainUnavailable):
    """The chain index was not synced with the chain recently enough to answer."""

    code = "CHAIN_INDEX_STALE"


def _is_address(value: str) -> bool:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith(("0x", "0X")):
        return False
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        return False
    return True


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else (t.replace(tzinfo=UTC) if t.tzinfo is None else t)


# ---------------------------------------------------------------------------------------------------------- indexer
class _Moved(Exception):
    """The cursor changed under us (another process synced, or the chain moved mid-read): start the pass again."""


class ChainIndexer:
    """Follows the registry behind ``client`` (a reader is enough) into the index tables of ``engine``.

    ``confirmations``: blocks the head must be ahead of an event before it is indexed (0: index up to the head;
    re-organisations are handled either way). ``start_block``: where the registry was deployed (default: the
    client's ``from_block``); nothing before it is read.
    """

    def __init__(
        self,
        engine: Engine,
        client: RegistryReader,
        clock: Callable[[], datetime],
        confirmations: int = 0,
        *,
        start_block: int | None = None,
        log_range: int = LOG_RANGE,
        reorg_depth: int = REORG_DEPTH,
    ) -> None:
        self.engine = engine
        self.client = client
        self.clock = clock
        self.confirmations = confirmations
        self.start_block = client.from_block if start_block is None else start_block
        self.log_range = log_range
        self.reorg_depth = reorg_depth
        self.rpc = ChainReads(client)
        artifact = client.artifact
        self._anchored, self._revoked = artifact.event_topic("Anchored"), artifact.event_topic("Revoked")
        self._key: tuple[int, str] | None = None
        self.state: IndexState | None = None  # as of the last sync (or load) by this process
        self.rewinds = 0

    @property
    def key(self) -> tuple[int, str]:
        """(chain id, contract address lowercase): the cursor's primary key."""
        if self._key is None:
            self._key = (self.client.chain_id, self.client.address.lower())
        return self._key

    def load(self) -> IndexState:
        """The stored cursor (created, and the tables emptied of any other registry's rows, if there is none)."""
        chain_id, contract = self.key
        with Session(self.engine) as s:
            row = s.get(ChainCursor, (contract, chain_id))
            if row is None:
                conn = s.connection()
                if conn.execute(select(_C.contract).limit(1)).first() is not None:
                    log.warning("chain index: another registry was indexed here; starting afresh for %s", contract)
                    for table in (_R_TABLE, _A_TABLE, _C_TABLE):
                        conn.execute(delete(table))
                row = ChainCursor(contract=contract, chain_id=chain_id, block=self.start_block - 1)
                s.add(row)
                s.commit()
                s.refresh(row)
            return IndexState(chain_id, contract, row.block, row.block_hash, _utc(row.updated_at), self._head())

    def _head(self) -> int | None:
        return self.state.head if self.state is not None else None

    def sync(self) -> IndexState:
        """Index every event up to the head (less ``confirmations``); returns what the index is now current to.

        Raises ChainUnavailable when the node cannot be read; the index then ages until a sync succeeds again.
        """
        for _ in range(8):  # each _Moved is progress by someone, or a chain that moved under a read: retry
            try:
                self.state = self._sync_once()
                return self.state
            except _Moved:
                continue
        self.state = self.load()
        return self.state

    def _sync_once(self) -> IndexState:
        state = self.load()
        started = self.clock()
        indexed = state.block >= self.start_block  # else nothing is indexed yet, and there is no block to check
        head, *stored = self.rpc.calls([("number", None), *([("block", state.block)] if indexed else [])])
        if indexed and (stored[0] is None or "0x" + stored[0].hash.hex() != state.block_hash):
            state = self._rewind(state, head)
        target = head - self.confirmations
        while state.block < target:
            end = min(state.block + self.log_range, target)
            state = self._index_range(state, end, started if end == target else None, head)
        if state.block >= target and state.synced_at != started:
            state = self._advance(state, state.block, state.block_hash, [], [], started, head)
        return replace(state, head=head)

    def _index_range(self, state: IndexState, end: int, synced_at: datetime | None, head: int) -> IndexState:
        # The end block's hash read before and after the logs: equal, the chain up to it did not change in between,
        # so the parent check and the logs describe one chain. The parent check links this range to the last one.
        indexed = state.block >= self.start_block
        before, *parent, logs, after = self.rpc.calls(
            [
                ("block", end),
                *([("block", state.block)] if indexed else []),
                ("logs", (state.block + 1, end, (self._anchored, self._revoked))),
                ("block", end),
            ]
        )
        if before is None or after is None or before.hash != after.hash:
            raise _Moved
        if indexed and (parent[0] is None or "0x" + parent[0].hash.hex() != state.block_hash):
            self._rewind(state, head)
            raise _Moved
        times = self._block_times(logs)
        anchors, revocations = self._rows(logs, times)
        return self._advance(state, end, "0x" + after.hash.hex(), anchors, revocations, synced_at, head)

    def _block_times(self, logs: Sequence[Log]) -> dict[int, datetime]:
        numbers = sorted({entry.block for entry in logs})
        blocks = self.rpc.calls([("block", n) for n in numbers]) if numbers else []
        hashes = {entry.block: entry.block_hash for entry in logs}
        times: dict[int, datetime] = {}
        for n, block in zip(numbers, blocks, strict=True):
            if block is None or block.hash != hashes[n]:
                raise _Moved
            times[n] = datetime.fromtimestamp(block.timestamp, UTC)
        return times

    def _rows(
        self, logs: Sequence[Log], times: dict[int, datetime]
    ) -> tuple[list[IndexedAnchor], list[IndexedRevocation]]:
        anchors: list[IndexedAnchor] = []
        revocations: list[IndexedRevocation] = []
        for entry in logs:
            topic, when = entry.topics[0], times[entry.block]
            if topic == self._anchored and len(entry.topics) == 3:
                anchors.append(
                    IndexedAnchor(
                        agency="0x" + entry.topics[1][12:].hex(),
                        root=entry.topics[2],
                        anchored_at=when,
                        count=int.from_bytes(entry.data[:32], "big"),
                        block=entry.block,
                        tx="0x" + entry.tx.hex(),
                    )
                )
            elif topic == self._revoked and len(entry.topics) == 4:
                replaced_by = entry.data[32:64]
                revocations.append(
                    IndexedRevocation(
                        agency="0x" + entry.topics[1][12:].hex(),
                        root=entry.topics[2],
                        data=entry.topics[3],
                        reason=int.from_bytes(entry.data[:32], "big"),
                        revoked_at=when,
                        replaced_by=replaced_by if any(replaced_by) else None,
                        block=entry.block,
                    )
                )
        return anchors, revocations

    def _advance(
        self,
        state: IndexState,
        block: int,
        block_hash: str | None,
        anchors: Sequence[IndexedAnchor],
        revocations: Sequence[IndexedRevocation],
        synced_at: datetime | None,
        head: int,
    ) -> IndexState:
        """Writes rows and moves the cursor in one transaction, if the cursor is still where ``state`` says."""
        values: dict[str, Any] = {"block": block, "block_hash": block_hash}
        if synced_at is not None:
            values["updated_at"] = synced_at
        with Session(self.engine) as s:
            if not self._move_cursor(s, state, values):
                raise _Moved
            for row in (*anchors, *revocations):
                s.merge(row)  # a row re-read after a rewind replaces the old one
            s.commit()
        return IndexState(
            state.chain_id,
            state.contract,
            block,
            block_hash,
            synced_at if synced_at is not None else state.synced_at,
            head,
        )

    def _move_cursor(self, s: Session, state: IndexState, values: dict[str, Any]) -> bool:
        stmt = (
            update(_C_TABLE)
            .where(
                _C.contract == state.contract,
                _C.chain_id == state.chain_id,
                _C.block == state.block,
                _C.block_hash.is_not_distinct_from(state.block_hash),
            )
            .values(**values)
        )
        return s.connection().execute(stmt).rowcount == 1

    def _rewind(self, state: IndexState, head: int) -> IndexState:
        """Forgets the last ``reorg_depth`` blocks (and marks the index stale in the same transaction)."""
        safe = max(self.start_block - 1, min(state.block, head) - self.reorg_depth)
        block = self.rpc.calls([("block", safe)])[0] if safe >= self.start_block else None
        if safe >= self.start_block and block is None:
            raise _Moved
        block_hash = None if block is None else "0x" + block.hash.hex()
        log.warning("chain index: block %s is no longer on the chain; rewinding to block %s", state.block, safe)
        with Session(self.engine) as s:
            if not self._move_cursor(s, state, {"block": safe, "block_hash": block_hash, "updated_at": None}):
                raise _Moved
            conn = s.connection()
            for table in (_A_TABLE, _R_TABLE):
                conn.execute(delete(table).where(table.c.block > safe))
            s.commit()
        self.rewinds += 1
        return IndexState(state.chain_id, state.contract, safe, block_hash, None, head)


# ----------------------------------------------------------------------------------------------------------- reader


_STATUS = DriverSelect(
    select(_C.block, _C.updated_at, _A.agency, _A.anchored_at, _R.reason, _R.revoked_at, _R.replaced_by)
    .select_from(
        _C_TABLE.outerjoin(_A_TABLE, and_(_A.agency == bindparam("agency"), _A.root == bindparam("root"))).outerjoin(
            _R_TABLE,
            and_(_R.agency == bindparam("agency"), _R.root == bindparam("root"), _R.data == bindparam("data")),
        )
    )
    .where(_C.contract == bindparam("contract"), _C.chain_id == bindparam("chain_id"))
)


class IndexedStatusReader:
    """``ChainStatusReader`` over the index: fresh answers only, else ChainIndexStale (or the ``fallback``'s).

    The ``fallback`` also answers for a root the index does not know: anchored after the last sync, a new root may be
    asked about before the next one (the server only asks about roots its own batches anchored).

    One SQL statement reads the cursor and the document's anchor and revocation together, so the freshness it tests
    is the freshness of the rows it returns.
    """

    def __init__(
        self,
        engine: Engine,
        indexer: ChainIndexer,
        clock: Callable[[], datetime],
        max_age: timedelta,
        fallback: ChainStatusReader | None = None,
    ) -> None:
        self.engine = engine
        self.indexer = indexer
        self.clock = clock
        self.max_age = max_age
        self.fallback = fallback

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        return self.read(agency, root, data)[0]

    @overload
    def read(
        self, agency: str, root: bytes, data: bytes, conn: Connection | None = None
    ) -> tuple[DocumentChainStatus, StateSource]: ...

    @overload
    def read(
        self, agency: str, root: bytes, data: bytes, conn: Connection | None, *, fallback: bool
    ) -> tuple[DocumentChainStatus, StateSource] | None: ...

    def read(
        self, agency: str, root: bytes, data: bytes, conn: Connection | None = None, *, fallback: bool = True
    ) -> tuple[DocumentChainStatus, StateSource] | None:
        """The status of ``data`` under the root ``agency`` anchored, and where it came from (on ``conn`` if given).

        With ``fallback=False`` it never waits on the network: None where the ``fallback`` would have been asked."""
        if len(root) != 32 or len(data) != 32 or not _is_address(agency):
            raise ChainIndexStale("agency is a 20-byte address, root and data are 32 bytes")
        chain_id, contract = self.indexer.key
        params = {"agency": agency.lower(), "root": root, "data": data, "contract": contract, "chain_id": chain_id}
        if conn is not None:
            row = _STATUS.first(conn, params)
        else:
            with self.engine.connect() as own:
                row = _STATUS.first(own, params)
        synced_at = _utc(row.updated_at) if row is not None else None
        if row is None or synced_at is None or self.clock() - synced_at > self.max_age:
            if self.fallback is not None and not fallback:
                return None
            if self.fallback is not None:
                return self.fallback.status(agency, root, data), StateSource("chain")
            when = _iso(synced_at) or "never"
            raise ChainIndexStale(f"the chain index is stale (last synced {when}, maximum age {self.max_age})")
        source = StateSource("index", int(row.block), synced_at)
        if row.agency is None:
            if self.fallback is not None and not fallback:
                return None
            if self.fallback is not None:  # anchored since the last sync? Only the chain can say (rare: a new root)
                return self.fallback.status(agency, root, data), StateSource("chain")
            return DocumentChainStatus(anchorer=None, anchored_at=None), source
        status = DocumentChainStatus(
            anchorer=row.agency,
            anchored_at=_utc(row.anchored_at),
            reason=reason_of(int(row.reason or 0)),
            revoked_at=_utc(row.revoked_at),
            replaced_by=bytes(row.replaced_by) if row.replaced_by is not None else None,
        )
        return status, source
