"""The composition root's object graph: settings, database, keys, chain and worker, built once at the edge."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City
from ledger.anchoring import Anchorer, WorkerConfig
from ledger.chain import RegistryClient
from ledger.errors import ChainUnavailable
from xacthuc.chainsetup import ChainHandle, connect, ensure_registry, fund_dev_accounts
from xacthuc.database import migrate
from xacthuc.db import make_engine
from xacthuc.settings import Settings
from xacthuc.worker import WorkerLock, WorkerThread

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
    signing_accounts: dict[str, Any] = field(default_factory=dict)
    worker: WorkerThread | None = None
    city: City | None = None

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

    def close(self) -> None:
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


def build_services(settings: Settings, *, start_node: bool = True, with_chain: bool = True) -> Services:
    """Open the database (migrated), the keys and the chain; deploy the registry on a fresh dev chain."""
    prepare_data_dir(settings)
    engine = make_engine(settings.resolved_database_url())
    migrate(engine)
    services = Services(settings=settings, engine=engine)
    from xacthuc.citysetup import attach_city

    attach_city(services)
    if with_chain:
        try:
            attach_chain(services, start_node=start_node)
        except Exception:
            services.close()
            raise
    return services


def attach_chain(services: Services, *, start_node: bool = True) -> None:
    from xacthuc.citysetup import admin_account, anchoring_accounts

    settings = services.settings
    services.chain = connect(settings, start_node=start_node)
    w3 = services.chain.w3
    accounts = anchoring_accounts(services)
    admin = admin_account(services)
    if services.chain.node is not None:  # our own dev chain: fund the agencies
        fund_dev_accounts(w3, [admin.address, *accounts])
    services.registry_client = ensure_registry(settings, w3, admin, admin.address)
    services.signing_accounts = accounts
