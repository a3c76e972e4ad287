"""The composition root: :func:`build_services`, the one builder that the server, the worker and every command get
their parts from (the migrated database, the city's unlocked keys, the chain and the registry, the anchorer), and
:class:`Services`, the container it returns.

What each caller needs is its :class:`Role`; nothing else assembles these parts on the side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import ANCHOR_FOR_GAS_LIMIT, RegistryClient
from ledger.chain.index import ChainIndexer, IndexedStatusReader
from ledger.chain.outbox import send_everything_again
from ledger.documents.receipt import Registry
from ledger.errors import AnchorAccountUnfunded, ChainUnavailable
from xacthuc.anchor_accounts import AnchorAccounts
from xacthuc.chainsetup import ChainHandle, connect, ensure_registry, fund_dev_accounts, recorded_registry
from xacthuc.citysetup import prepare_data_dir, refuse_existing_city, require_city, resolve_passphrase, unlock_city
from xacthuc.database import make_engine, migrate
from xacthuc.settings import Settings
from xacthuc.worker import IndexerThread, WorkerLock, WorkerThread, drive_outbox

__all__ = ["Role", "Services", "build_services", "init_city", "resend_everything", "utc_now"]

log = logging.getLogger("xacthuc")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore(_: int) -> None:
    pass


class Role(StrEnum):
    """What a caller needs built, from the least to the most."""

    VERIFIER = "verifier"
    """The database of an existing city opened read-only (not migrated), its keys left locked, no chain: a verifier
    on a data dir, which changes nothing there (``verify --data-dir``)."""
    READER = "reader"
    """The migrated database of an existing city, its keys left locked (``doc show``)."""
    KEYS = "keys"
    """And the city's keys, unlocked (``agency``, ``keys``, ``id``, ``doc issue``, ``doc import``)."""
    WORKER = "worker"
    """And the chain, the registry and the agencies' anchoring accounts (``worker``, ``anchor``, ``doc revoke``,
    ``chain status``)."""
    SERVER = "server"
    """As ``WORKER``; in development mode a fresh data dir first gets a new city (``serve``)."""
    NEW_CITY = "new_city"
    """A new city in a data dir that holds none, keys unlocked, no chain (``init``)."""


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    chain: ChainHandle | None = None
    registry_client: RegistryClient | None = None
    # agency address -> account; or a callable the worker asks at every pass (``AnchorAccounts``)
    signing_accounts: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    # the city's relayer, which sends (and pays for) every agency's transactions; None: each agency sends its own
    anchor_accounts: AnchorAccounts | None = None
    worker: WorkerThread | None = None
    city: City | None = None
    indexer: ChainIndexer | None = None
    index_thread: IndexerThread | None = None

    def registry(self) -> RegistryClient:
        if self.registry_client is None:
            raise ChainUnavailable("no chain configured")
        return self.registry_client

    def require_city(self) -> City:
        if self.city is None:
            raise RuntimeError("the city's keys are not unlocked")
        return self.city

    def session(self) -> Iterator[Session]:
        """A FastAPI dependency: one session per request, committed by the domain code's callers."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def document_registry(self) -> Registry:
        """The registry documents are signed for: the connected one, else the configured or recorded one, else
        (a fresh development data dir) one deployed now on the chain, which is connected for it."""
        if self.registry_client is None:
            known = recorded_registry(self.settings)
            if known is not None:
                return known
            attach_chain(self)
        client = self.registry()
        return Registry.of(client.chain_id, client.address)

    def worker_config(self) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(
            batch_max=s.batch_max,
            batch_interval=timedelta(seconds=s.batch_interval),
            confirmations=s.confirmations,
            finality_depth=s.finality_depth,
        )

    def anchorer(self) -> Anchorer:
        relayer = None if self.anchor_accounts is None else self.anchor_accounts.relayer
        return Anchorer(
            self.engine, self.registry(), self.signing_accounts, self.worker_config(), self.clock, relayer=relayer
        )

    def anchoring_problems(self) -> list[AnchorAccountUnfunded]:
        """What keeps documents from being anchored now (an account that cannot pay): ``/readyz`` names it."""
        return [] if self.anchor_accounts is None else self.anchor_accounts.problems()

    def raise_if_cannot_anchor(self) -> None:
        """``ANCHOR_ACCOUNT_UNFUNDED`` when the sending account cannot pay (``anchor --wait`` fails with it)."""
        for problem in self.anchoring_problems():
            raise problem

    def drive_outbox(
        self, left: Callable[[Session], int], *, wait: bool, timeout: float, tick: Callable[[int], None] = _ignore
    ) -> tuple[int, int]:
        """The worker in the foreground until ``left`` is 0 (``xacthuc.worker.drive_outbox``)."""
        return drive_outbox(
            self.engine,
            self.settings.data_dir,
            self.anchorer,
            left,
            wait=wait,
            timeout=timeout,
            tick=tick,
            check=self.raise_if_cannot_anchor,
        )

    def start_worker(self) -> None:
        self.worker = WorkerThread(self.anchorer(), WorkerLock(self.engine, self.settings.data_dir))
        self.worker.start()

    def start_indexer(self, poll: float = 0.5) -> ChainIndexer | None:
        """Follow the registry's events into the chain index, in a thread (None: no chain, or the index is off)."""
        if self.indexer is not None or self.registry_client is None or self.settings.index_max_age <= 0:
            return self.indexer
        self.indexer = ChainIndexer(self.engine, self.registry_client, self.clock)
        self.index_thread = IndexerThread(self.indexer, poll=poll)
        self.index_thread.start()
        return self.indexer

    def chain_reader(self) -> IndexedStatusReader | RegistryClient:
        """How verifications read the registry: the chain index while it runs (falling back to a direct
        ``eth_call`` when it is stale), else one ``eth_call`` per verification."""
        direct = self.registry()  # a RegistryReader: one eth_call per status
        if self.indexer is None:
            return direct
        max_age = timedelta(seconds=self.settings.index_max_age)
        return IndexedStatusReader(self.engine, self.indexer, self.clock, max_age, fallback=direct)

    def close(self) -> None:
        if self.index_thread is not None:
            self.index_thread.stop()
            self.index_thread = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self.chain is not None:
            self.chain.close()
            self.chain = None
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    role: Role,
    start_node: bool = True,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    """Open what ``role`` needs: the database (migrated), the city's keys, the chain (the registry deployed on a
    fresh dev chain).

    The data dir must hold a city (``CITY_NOT_FOUND`` otherwise, with nothing written there), except for
    ``NEW_CITY`` (which refuses one that does) and ``SERVER`` in development mode (a fresh data dir gets one).
    The passphrase is resolved before anything is written.
    """
    create = role is Role.NEW_CITY or (role is Role.SERVER and settings.dev_mode)
    if role is Role.NEW_CITY:
        refuse_existing_city(settings)
    elif not create:
        require_city(settings)
    locked = role in (Role.VERIFIER, Role.READER)
    passphrase = None if locked else resolve_passphrase(settings, confirm=role is Role.NEW_CITY)
    if not locked:  # a reader leaves the data dir as it finds it (its mode included)
        prepare_data_dir(settings)
    read_only = role is Role.VERIFIER
    engine = make_engine(settings.resolved_database_url(), read_only=read_only)
    services = Services(settings=settings, engine=engine, clock=clock)
    try:
        if not read_only:
            migrate(services.engine)
        if passphrase is not None:
            services.city = unlock_city(settings, services.engine, passphrase, clock(), create=create)
        if role in (Role.WORKER, Role.SERVER):
            attach_chain(services, start_node=start_node)
    except BaseException:
        services.close()
        raise
    return services


def init_city(settings: Settings, now: datetime) -> City:
    """``xacthuc init``: a new city in the data dir (keystore, root key, the city's own row, the database).

    Outside development mode no agency is created and no secret is written anywhere but the keystore.
    """
    services = build_services(settings, role=Role.NEW_CITY, clock=lambda: now)
    services.close()
    return services.require_city()


def attach_chain(services: Services, *, start_node: bool = True) -> None:
    """Connect the chain, make sure the registry is there (deployed on a fresh dev chain), and give the anchorer
    every agency's account (re-read while the process runs) and the city's relayer, which sends for all of them
    (our own dev node funds it)."""
    settings = services.settings
    services.chain = connect(settings, start_node=start_node)
    w3 = services.chain.w3
    admin = services.require_city().admin_account
    own_node = services.chain.node is not None
    if own_node:  # our own dev chain: fund the admin and the relayer at once (the agencies need no funds)
        fund_dev_accounts(w3, [admin.address, services.require_city().relayer_account.address])
    registry = ensure_registry(
        settings, w3, admin, admin.address, resend_all=partial(resend_everything, services.engine)
    )
    services.registry_client = registry
    accounts = AnchorAccounts(
        services.require_city(),
        balance=lambda address: int(w3.eth.get_balance(w3.to_checksum_address(address))),
        min_balance=lambda: ANCHOR_FOR_GAS_LIMIT * registry.suggest_fees().max_fee_per_gas,
        clock=services.clock,
        fund=partial(fund_dev_accounts, w3) if own_node else None,
    )
    services.signing_accounts = accounts
    services.anchor_accounts = accounts


def resend_everything(engine: Engine) -> tuple[int, int]:
    """Every stored batch and revocation back in the outbox (a dev chain lost the registry): (batches, revocations)."""
    with Session(engine) as session:
        counts = send_everything_again(session)
        session.commit()
    return counts
