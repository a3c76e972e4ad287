"""Making and restoring a backup: the database, the data directory's files and the registry record, in one
gzip-compressed tar stream sealed into the backup file (:mod:`xacthuc.backup.sealed_file`).

The archive's members, in this order: ``manifest.json`` (what follows: tables with their columns and row counts,
files, the registry, the schema revision), ``db/<table>/<n>.jsonl`` (rows in dependency order), ``files/<path>``
(the data dir's files). A restore reads the whole file once to prove it intact before it writes anything, then
again to restore.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from sqlalchemy.engine import make_url

from keys.keystore import Keystore, Passphrase, ensure_private_dir
from keys.limits import BACKUP_MEMBER_BYTES
from keys.sealing import ScryptParams
from xacthuc.backup.errors import BackupDamaged, BackupError, BackupExists, RestoreTargetNotEmpty
from xacthuc.backup.sealed_file import FORMAT, SealedReader, SealedWriter
from xacthuc.backup.tables import TableInfo, decode_row, dump_json, load_rows, prepare_target, snapshot, table_rows

__all__ = ["BackupSummary", "Progress", "create_backup", "restore_backup"]

Tick = Callable[[int], None]
Progress = Callable[[str, int], AbstractContextManager[Tick]]
"""``progress(label, total)``: a context whose value is called with the number of rows just done."""

MANIFEST = "manifest.json"
_CHUNK_ROWS, _CHUNK_BYTES = 5000, 4 << 20
_SKIP_TOP = {"anvil", "worker.lock"}  # the embedded dev node (unless asked) and a live process's lock
_MAX_MEMBER = BACKUP_MEMBER_BYTES


@dataclass
class BackupSummary:
    """What a backup holds (``xacthuc backup create|restore --json`` prints it)."""

    created_at: str
    database: str
    revision: str
    tables: int
    rows: int
    files: list[str]
    registry: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "database": self.database,
            "revision": self.revision,
            "tables": self.tables,
            "rows": self.rows,
            "files": self.files,
            "registry": self.registry,
            **self.extra,
        }


def _no_progress(_label: str, _total: int) -> AbstractContextManager[Tick]:
    return nullcontext(lambda _n: None)


# --- making -----------------------------------------------------------------------------------------------------


def _data_files(data_dir: Path, skip: set[Path], include_dev_chain: bool) -> list[str]:
    """The data dir's regular files the service needs, relative, sorted: all but the database (dumped), temporary
    files, locks and (unless asked) the embedded dev node's state."""
    found = []
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        top = rel.parts[0]
        if path.resolve() in skip or not stat.S_ISREG(path.lstat().st_mode):
            continue
        if top in _SKIP_TOP and not (include_dev_chain and rel.as_posix() == "anvil/state.json"):
            continue
        if path.name.endswith((".tmp", ".lock", ".partial")) or path.name == ".lock":
            continue
        found.append(rel.as_posix())
    return found


def _sqlite_files(url: str) -> set[Path]:
    if not url.startswith("sqlite"):
        return set()
    db = Path(make_url(url).database or "").resolve()
    return {db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))}


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def create_backup(
    out: Path,
    *,
    data_dir: Path,
    database_url: str,
    passphrase: Passphrase,
    registry: dict[str, Any] | None,
    now: datetime,
    include_dev_chain: bool = False,
    progress: Progress = _no_progress,
    params: ScryptParams | None = None,
) -> BackupSummary:
    """Write a backup of the city in ``data_dir`` to ``out`` (never overwritten), sealed under its passphrase.

    The passphrase is proven on the keystore first, so no backup is ever sealed under a mistyped one."""
    if out.exists():
        raise BackupExists(f"{out} already exists: a backup never overwrites a file")
    Keystore.open(data_dir / "keys", passphrase)  # KEYSTORE_UNLOCK_FAILED for a wrong passphrase
    partial = out.with_name(f".{out.name}.partial")
    skip = _sqlite_files(database_url) | {out.resolve(), partial.resolve()}
    files = _data_files(data_dir, skip, include_dev_chain)
    with snapshot(database_url) as snap:
        tables = snap.info()
        header = {"created_at": now.isoformat(), "database": snap.dialect, "revision": snap.revision}
        manifest = {
            **header,
            "format": FORMAT,
            "tables": [t.to_json() for t in tables],
            "files": files,
            "registry": registry,
        }
        try:
            with open(partial, "xb") as fh:
                os.chmod(partial, 0o600)
                sealed = SealedWriter(fh, header, passphrase.value, params or ScryptParams())
                with tarfile.open(fileobj=sealed, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
                    _add(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
                    total = sum(t.rows for t in tables)
                    with progress("backup", total) as tick:
                        for table, info in zip(snap.tables, tables, strict=True):
                            _dump_table(tar, snap.conn, table, info, tick)
                    for rel in files:
                        data = (data_dir / rel).read_bytes()
                        _add(tar, f"files/{rel}", data, (data_dir / rel).stat().st_mode & 0o777)
                sealed.finish()
                fh.flush()
                os.fsync(fh.fileno())
            os.link(partial, out)  # refuses a file that appeared meanwhile, like out.exists() above
        except FileExistsError:
            raise BackupExists(f"{out} already exists: a backup never overwrites a file") from None
        finally:
            partial.unlink(missing_ok=True)
    return BackupSummary(
        now.isoformat(), snap.dialect, snap.revision, len(tables), sum(t.rows for t in tables), files, registry
    )


def _dump_table(tar: tarfile.TarFile, conn: Any, table: Any, info: TableInfo, tick: Tick) -> None:
    buf, rows, n = bytearray(), 0, 0
    for values in table_rows(conn, table, info):
        buf += dump_json(values)
        rows += 1
        if rows >= _CHUNK_ROWS or len(buf) >= _CHUNK_BYTES:
            _add(tar, f"db/{info.name}/{n:06d}.jsonl", bytes(buf))
            tick(rows)
            buf, rows, n = bytearray(), 0, n + 1
    if rows:
        _add(tar, f"db/{info.name}/{n:06d}.jsonl", bytes(buf))
        tick(rows)


# --- restoring ----------------------------------------------------------------------------------------------------


def _members(fh: BinaryIO, key: bytes) -> Iterator[tuple[str, bytes]]:
    """The archive's members as (name, bytes), each checked for a safe name and a bounded size."""
    reader = SealedReader(fh, key)
    try:
        with tarfile.open(fileobj=reader, mode="r|gz") as tar:
            for member in tar:
                name = member.name
                parts = PurePosixPath(name).parts
                if not member.isreg() or name.startswith("/") or ".." in parts or member.size > _MAX_MEMBER:
                    raise BackupDamaged(f"the backup holds an entry it may not: {name!r}")
                got = tar.extractfile(member)
                yield name, got.read() if got is not None else b""
        while reader.read(1 << 20):  # to the last frame, so a cut-off or extended file is noticed
            pass
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupDamaged(f"the backup's archive is damaged ({type(exc).__name__})") from None


def _manifest(members: Iterator[tuple[str, bytes]]) -> tuple[dict[str, Any], list[TableInfo]]:
    first = next(members, None)
    if first is None or first[0] != MANIFEST:
        raise BackupDamaged("the backup's archive does not start with its manifest")
    try:
        manifest = json.loads(first[1])
        tables = [TableInfo.from_json(t) for t in manifest["tables"]]
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not all(isinstance(f, str) for f in files):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise BackupDamaged("the backup's manifest is malformed") from None
    return manifest, tables


def _rows_of(info: TableInfo, data: bytes) -> list[dict[str, Any]]:
    try:
        return [decode_row(info, json.loads(line)) for line in data.splitlines() if line]
    except ValueError as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupDamaged(f"a row of table {info.name} is not JSON") from None


def _check(fh: BinaryIO, key: bytes) -> dict[str, Any]:
    """Read the whole archive: every member where the manifest says, every row decodable, counts as announced."""
    members = _members(fh, key)
    manifest, tables = _manifest(members)
    by_name = {t.name: t for t in tables}
    counted = dict.fromkeys(by_name, 0)
    files = set()
    for name, data in members:
        parts = PurePosixPath(name).parts
        if parts[0] == "db" and len(parts) == 3 and parts[1] in by_name:
            counted[parts[1]] += len(_rows_of(by_name[parts[1]], data))
        elif parts[0] == "files" and len(parts) > 1:
            files.add("/".join(parts[1:]))
        else:
            raise BackupDamaged(f"the backup holds an entry its manifest does not name: {name!r}")
    if counted != {t.name: t.rows for t in tables} or files != set(manifest["files"]):
        raise BackupDamaged("the backup's archive does not hold what its manifest lists")
    return dict(manifest)


def _refuse_non_empty(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise RestoreTargetNotEmpty(f"{data_dir} is not an empty directory: a restore never mixes two cities")


def restore_backup(
    source: Path,
    *,
    data_dir: Path,
    database_url: str | None,
    passphrase: Passphrase,
    progress: Progress = _no_progress,
) -> BackupSummary:
    """Restore ``source`` into the empty ``data_dir`` and the empty database at ``database_url`` (None: SQLite
    ``xacthuc.db`` in ``data_dir``). The file is proven whole and the targets empty before anything is written;
    the data dir appears only when all of it is restored."""
    _refuse_non_empty(data_dir)
    try:
        fh: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed below, read twice
    except FileNotFoundError:
        raise BackupError(f"no backup file {source}") from None
    with fh:
        _header, key = SealedReader.unlock(fh, passphrase.value)
        start = fh.tell()
        manifest = _check(fh, key)
        staging = data_dir.with_name(f".{data_dir.name}.restoring")
        url = database_url or f"sqlite:///{(staging / 'xacthuc.db').resolve()}"
        if staging.exists():
            raise RestoreTargetNotEmpty(f"{staging} exists: an earlier restore was interrupted; remove it first")
        ensure_private_dir(staging)
        try:
            prepare_target(url, str(manifest["revision"]))
            fh.seek(start)
            members = _members(fh, key)
            _, tables = _manifest(members)
            by_name = {t.name: t for t in tables}
            files: list[str] = []

            def batches() -> Iterator[tuple[TableInfo, list[dict[str, Any]]]]:
                for name, data in members:
                    parts = PurePosixPath(name).parts
                    if parts[0] == "db":
                        yield by_name[parts[1]], _rows_of(by_name[parts[1]], data)
                    else:
                        _write_file(staging, "/".join(parts[1:]), data)
                        files.append("/".join(parts[1:]))

            with progress("restore", sum(t.rows for t in tables)) as tick:
                load_rows(url, batches(), tick)  # the files, last in the archive, are written as it is drained
            _restore_registry(staging, manifest.get("registry"), files)
            if data_dir.exists():
                data_dir.rmdir()  # empty, checked above
            staging.rename(data_dir)
        except BaseException:
            _remove_tree(staging)
            raise
    return BackupSummary(
        str(manifest["created_at"]),
        str(manifest["database"]),
        str(manifest["revision"]),
        len(tables),
        sum(t.rows for t in tables),
        files,
        manifest.get("registry"),
    )


def _write_file(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _restore_registry(root: Path, registry: Any, files: list[str]) -> None:
    """A backup of a city whose registry came from the settings still restores its record as registry.json."""
    if "registry.json" in files or not isinstance(registry, dict) or not registry.get("address"):
        return
    record = {"chain_id": registry.get("chain_id"), "address": registry["address"]}
    _write_file(root, "registry.json", (json.dumps(record, indent=2) + "\n").encode("utf-8"))
    files.append("registry.json")


def _remove_tree(root: Path) -> None:
    if not root.exists():
        return
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    root.rmdir()
