"""Alembic environment: runs on the engine handed over by ``xacthuc.database.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import xacthuc.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from xacthuc.database import make_engine
        from xacthuc.settings import load_settings

        engine = make_engine(load_settings().resolved_database_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
