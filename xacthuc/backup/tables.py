"""The database in a backup, neutral between SQLite and PostgreSQL: every table's rows as JSON lines.

Why not ``pg_dump``: its output restores only into PostgreSQL (a SQLite backup must restore into PostgreSQL: that is
how a city moves), and ``pg_dump`` refuses a server of a newer major version than its own, so the client on the
machine would have to track the server's. Here the schema is never copied: the restore runs this code's own
migrations up to the backup's revision, loads the rows in dependency order, then migrates to head. Consistency
while the server runs: SQLite is first copied with the online backup API (``sqlite3.Connection.backup``, one step,
so no concurrent write restarts it) and the rows read from that copy; PostgreSQL is read in one ``REPEATABLE READ
READ ONLY`` transaction, the snapshot ``pg_dump`` itself uses.

Values travel as JSON by a kind named per column: ``bytes`` (base64), ``datetime`` (ISO 8601 in UTC: the service
stores UTC, and SQLite keeps no offset), ``date``, ``time``, ``decimal``, ``uuid`` (strings), ``json`` and
``plain`` (as they are).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, Table, func, inspect, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from xacthuc.backup.errors import BackupDamaged, BackupError, BackupUnsupported, RestoreTargetNotEmpty
from xacthuc.database import alembic_config, make_engine, migrate

__all__ = ["Snapshot", "TableInfo", "decode_row", "load_rows", "prepare_target", "snapshot", "table_rows"]

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class TableInfo:
    """A table as the backup records it: its columns with their value kinds, and how many rows it holds."""

    name: str
    columns: list[tuple[str, str]]
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [list(c) for c in self.columns], "rows": self.rows}

    @classmethod
    def from_json(cls, data: Any) -> TableInfo:
        try:
            cols = [(str(n), str(k)) for n, k in data["columns"]]
            info = cls(str(data["name"]), cols, int(data["rows"]))
        except (KeyError, TypeError, ValueError):
            raise BackupDamaged("the backup's manifest names a table badly") from None
        if any(k not in _DECODERS for _, k in cols):
            raise BackupUnsupported(f"the backup's table {info.name} has a column kind this version does not know")
        return info


@dataclass
class Snapshot:
    """A consistent view of the source database: its dialect, schema revision and tables (dependency order)."""

    conn: Connection
    dialect: str
    revision: str
    tables: list[Table]

    def info(self) -> list[TableInfo]:
        out = []
        for t in self.tables:
            count = int(self.conn.execute(select(func.count()).select_from(t)).scalar_one())
            out.append(TableInfo(t.name, [(c.name, _kind(c.type)) for c in t.columns], count))
        return out


def _kind(type_: sqltypes.TypeEngine[Any]) -> str:
    if isinstance(type_, sqltypes.JSON):
        return "json"
    try:
        py = type_.python_type
    except NotImplementedError:
        return "plain"
    for cls, kind in ((bytes, "bytes"), (dt.datetime, "datetime"), (dt.date, "date"), (dt.time, "time")):
        if issubclass(py, cls):
            return kind
    if issubclass(py, Decimal):
        return "decimal"
    if issubclass(py, uuid.UUID):
        return "uuid"
    return "plain"


def _utc(v: dt.datetime) -> str:
    return (v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v.astimezone(dt.UTC)).isoformat()


_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "bytes": lambda v: base64.b64encode(v).decode("ascii"),
    "datetime": _utc,
    "date": lambda v: v.isoformat(),
    "time": lambda v: v.isoformat(),
    "decimal": str,
    "uuid": str,
    "json": lambda v: v,
    "plain": lambda v: v,
}
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "bytes": lambda v: base64.b64decode(v, validate=True),
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "json": lambda v: v,
    "plain": lambda v: v,
}


def _reflect(conn: Connection) -> tuple[str, list[Table]]:
    md = MetaData()
    md.reflect(conn)
    if VERSION_TABLE not in md.tables:
        raise BackupError("the database has no schema revision (alembic_version): it was never migrated")
    revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()  # noqa: S608
    return str(revision), [t for t in md.sorted_tables if t.name != VERSION_TABLE]


@contextmanager
def snapshot(url: str) -> Iterator[Snapshot]:
    """The source database, consistent while the service keeps writing to it (see the module's docstring)."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or not Path(path).exists():
            raise BackupError(f"the SQLite database {path} does not exist")
        with tempfile.TemporaryDirectory(prefix="xacthuc-backup-") as tmp:
            copy = Path(tmp) / "snapshot.db"
            src, dst = sqlite3.connect(path, timeout=30), sqlite3.connect(copy)
            try:
                src.backup(dst)  # pages=-1: one step, a consistent copy even while the server writes
            finally:
                dst.close()
                src.close()
            engine = make_engine(f"sqlite:///{copy}", read_only=True)
            try:
                with engine.connect() as conn:
                    revision, tables = _reflect(conn)
                    yield Snapshot(conn, "sqlite", revision, tables)
            finally:
                engine.dispose()
        return
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            revision, tables = _reflect(conn)
            yield Snapshot(conn, engine.dialect.name, revision, tables)
    finally:
        engine.dispose()


def table_rows(conn: Connection, table: Table, info: TableInfo) -> Iterator[list[Any]]:
    """The rows of ``table`` as JSON-ready lists in the column order of ``info``, streamed."""
    cols = [table.c[name] for name, _ in info.columns]
    encoders = [_ENCODERS[kind] for _, kind in info.columns]
    pk = list(table.primary_key.columns) or cols
    result = conn.execution_options(stream_results=True, yield_per=1000).execute(select(*cols).order_by(*pk))
    for row in result:
        yield [None if v is None else enc(v) for enc, v in zip(encoders, row, strict=True)]


def decode_row(info: TableInfo, values: Any) -> dict[str, Any]:
    """One JSON line of a table back into column values; :class:`BackupDamaged` when it does not fit."""
    if not isinstance(values, list) or len(values) != len(info.columns):
        raise BackupDamaged(f"a row of table {info.name} does not match its columns")
    try:
        return {
            name: None if v is None else _DECODERS[kind](v)
            for (name, kind), v in zip(info.columns, values, strict=True)
        }
    except (TypeError, ValueError):
        raise BackupDamaged(f"a value in table {info.name} cannot be read") from None


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def prepare_target(url: str, revision: str) -> None:
    """Refuse a target database that holds anything, then migrate it to the backup's ``revision``.

    A database already migrated by this code (docker-compose's ``migrate`` step) but empty is accepted when its
    revision is not past the backup's.
    """
    script = ScriptDirectory.from_config(alembic_config())
    try:
        script.get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown revision
        raise BackupUnsupported(
            f"the backup's database schema is at revision {revision}, which this version of xacthuc does not know"
            " (restore it with the version that made it, or a newer one)"
        ) from None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n != VERSION_TABLE]
            for name in names:
                if conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:  # noqa: S608
                    raise RestoreTargetNotEmpty(f"the database {redact(url)} is not empty (table {name} has rows)")
            current = None
            if inspect(conn).has_table(VERSION_TABLE):
                current = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608
        if names and current is None:
            raise RestoreTargetNotEmpty(f"the database {redact(url)} holds tables that are not xacthuc's schema")
        if current is not None and current not in {r.revision for r in script.iterate_revisions(revision, "base")}:
            raise RestoreTargetNotEmpty(
                f"the database {redact(url)} is migrated past the backup's revision {revision}: use an empty database"
            )
        migrate(engine, revision)
    except SQLAlchemyError as exc:
        raise BackupError(f"the database {redact(url)} could not be used: {type(exc).__name__}") from None
    finally:
        engine.dispose()


def load_rows(url: str, batches: Iterator[tuple[TableInfo, list[dict[str, Any]]]], tick: Callable[[int], None]) -> None:
    """Insert the rows (tables in dependency order) in one transaction, set PostgreSQL's sequences past the largest
    id, then migrate to head."""
    engine = make_engine(url)
    try:
        md = MetaData()
        with engine.begin() as conn:
            md.reflect(conn)
            for info, rows in batches:
                if info.name not in md.tables:
                    raise BackupUnsupported(f"the backup's table {info.name} is not in the schema it names")
                if rows:
                    conn.execute(md.tables[info.name].insert(), rows)
                tick(len(rows))
            if conn.dialect.name == "postgresql":
                _advance_sequences(conn, md)
        migrate(engine)
    finally:
        engine.dispose()


def _advance_sequences(conn: Connection, md: MetaData) -> None:
    for table in md.tables.values():
        for col in table.primary_key.columns:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": col.name})
            name = seq.scalar()
            if name is not None:
                top = conn.execute(select(func.max(col))).scalar()
                conn.execute(
                    text("SELECT setval(:s, :v, :called)"), {"s": name, "v": top or 1, "called": top is not None}
                )


def dump_json(values: list[Any]) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
