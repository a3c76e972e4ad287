"""The database: the engine and sessions (SQLite by default, PostgreSQL in production) and the schema migrations
(Alembic), run at start-up by the builder (``xacthuc.services.build_services``) and by the test fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlmodel import Session, create_engine

from keys.errors import XacthucError

__all__ = [
    "MIGRATIONS",
    "StorageFull",
    "StorageUnavailable",
    "alembic_config",
    "make_engine",
    "migrate",
    "session_scope",
]

#: SQLite's result code for "database or disk is full" (a full file system, or ``PRAGMA max_page_count`` reached).
SQLITE_FULL = 13


class StorageUnavailable(XacthucError):
    """The data directory or the database could not be used."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


class StorageFull(XacthucError):
    """The data directory's disk is full: nothing was written; free space and try again."""

    code = "STORAGE_FULL"
    http_status = 507


def _storage_full(context: ExceptionContext) -> None:
    """SQLite's disk full becomes the typed ``STORAGE_FULL`` (507) instead of an untyped 500: the transaction is
    rolled back whole by SQLite, so the client may retry once space is back."""
    if getattr(context.original_exception, "sqlite_errorcode", None) == SQLITE_FULL:
        raise StorageFull("the disk of the data directory is full; nothing was written") from (
            context.original_exception
        )


MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine tuned for the backend: SQLite in WAL mode with durable commits; pooled PostgreSQL via psycopg 3.

    ``read_only``: a reader that can change nothing (``xacthuc verify`` on a data dir): SQLite opened with
    ``mode=ro``, PostgreSQL sessions read-only by default.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        if read_only and url.startswith("sqlite:///"):
            url = f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not read_only:  # the journal mode is the writer's to set
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")  # an accepted document survives power loss
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: the outbox's indexes stay in memory
            cur.close()

        event.listen(engine, "handle_error", _storage_full)
        return engine
    if read_only:
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "options": "-c default_transaction_read_only=on"}
    return create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)
