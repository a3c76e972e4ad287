"""A durable PostgreSQL for the benchmarks that measure it: Debian's binaries, started here with fsync and
synchronous commits on (the tests' throwaway servers run without fsync), on the loopback and the same cores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SKIPPED = {"skipped": "PostgreSQL is not installed (make test installs it)"}


def on_durable_postgres(measure: Callable[[Callable[[], str]], dict[str, Any]]) -> dict[str, Any]:
    """``measure(new_database)`` against a durable server started for it and stopped after; ``new_database()`` gives
    the URL of a fresh database. Its result gains ``server``; without PostgreSQL installed: ``SKIPPED``."""
    from tests.plugins.db import PostgresServer, _pg_bindir

    bindir = _pg_bindir()
    if bindir is None:
        return dict(SKIPPED)
    server = PostgresServer(bindir, durable=True)
    server.start()
    try:
        result = measure(server.create_database)
    finally:
        server.stop()
    return {**result, "server": f"PostgreSQL {bindir.parent.name}, fsync on, synchronous_commit on"}
