"""The composition root's object graph: settings, database, keys, chain and worker, built once at the edge."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City
from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from ledger.chain.index import ChainIndexer, IndexedStatusReader
from ledger.chain.outbox import send_everything_again
from ledger.documents.revocation import RegistryStatusReader
from ledger.errors import ChainUnavailable
from xacthuc.chainsetup import ChainHandle, connect, ensure_registry, fund_dev_accounts
from xacthuc.database import migrate
from xacthuc.db import make_engine
from xacthuc.settings import Settings
from xacthuc.worker import IndexerThread, WorkerLock, WorkerThread

log = logging.getLogger("xacthuc")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    chain: ChainHandle | None = None
    registry_client: RegistryClient | None = None
    # address -> account; or a callable the worker asks at every pass (``citysetup.anchoring_accounts``)
    signing_accounts: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
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

    def routers(self) -> list[APIRouter]:
        """The HTTP routes (verifications read the chain index when :meth:`start_indexer` has started it)."""
        from xacthuc.routers import build_routers

        return build_routers(self)

    def worker_config(self) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(
            batch_max=s.batch_max,
            batch_interval=timedelta(seconds=s.batch_interval),
            confirmations=s.confirmations,
            finality_depth=s.finality_depth,
        )

    def anchorer(self) -> Anchorer:
        return Anchorer(self.engine, self.registry(), self.signing_accounts, self.worker_config(), self.clock)

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

    def chain_reader(self) -> IndexedStatusReader | RegistryStatusReader:
        """How verifications read the registry: the chain index while it runs (falling back to a direct
        ``eth_call`` when it is stale), else one ``eth_call`` per verification."""
        direct = RegistryStatusReader(self.registry())
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


def prepare_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


def build_services(
    settings: Settings, *, start_node: bool = True, with_chain: bool = True, create_city: bool = False
) -> Services:
    """Open the database (migrated), the keys and the chain; deploy the registry on a fresh dev chain.

    The data dir must hold a city (``CITY_NOT_FOUND`` otherwise, with nothing written there) unless
    ``create_city`` (``serve --dev``) asks to create one on a fresh data dir.
    """
    from xacthuc.citysetup import attach_city, require_city, resolve_passphrase

    if not create_city:
        require_city(settings)
    passphrase = resolve_passphrase(settings)
    prepare_data_dir(settings)
    engine = make_engine(settings.resolved_database_url())
    services = Services(settings=settings, engine=engine)
    try:
        migrate(engine)
        attach_city(services, passphrase, create=create_city)
        if with_chain:
            attach_chain(services, start_node=start_node)
    except BaseException:
        services.close()
        raise
    return services


def attach_chain(services: Services, *, start_node: bool = True) -> None:
    from xacthuc.citysetup import admin_account, anchoring_accounts

    settings = services.settings
    services.chain = connect(settings, start_node=start_node)
    w3 = services.chain.w3
    admin = admin_account(services)
    own_node = services.chain.node is not None
    if own_node:  # our own dev chain: fund the admin (the agencies are funded as the worker finds them)
        fund_dev_accounts(w3, [admin.address])
    services.registry_client = ensure_registry(
        settings, w3, admin, admin.address, resend_all=lambda: resend_everything(services.engine)
    )
    services.signing_accounts = anchoring_accounts(services, fund_dev=own_node)


def resend_everything(engine: Engine) -> tuple[int, int]:
    """Every stored batch and revocation back in the outbox (a dev chain lost the registry): (batches, revocations)."""
    with Session(engine) as session:
        counts = send_everything_again(session)
        session.commit()
    return counts
