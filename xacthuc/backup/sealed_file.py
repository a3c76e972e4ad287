"""The backup file: a plaintext header line, a key box sealed under the keystore passphrase, then sealed frames.

Layout (docs/operations.md, "Backups and restore"):

1. one JSON line, readable without the passphrase: ``format``, ``created_at``, the database it came from and its
   schema revision;
2. one JSON line, the key box: a random 256-bit data key sealed with :func:`keys.sealing.seal` (scrypt of the
   passphrase, AES-256-GCM), whose associated data binds the SHA-256 of line 1, so the header cannot be altered;
3. frames until the last: a flag byte (1 on the last frame), the ciphertext length (4 bytes, big-endian), a 16-byte
   salt, a 12-byte nonce and the ciphertext of up to 1 MiB of the archive, sealed with
   :func:`keys.sealing.seal_with_key` under the data key with its sequence number and last-frame flag bound in. A
   frame dropped, repeated, reordered or cut off, or bytes after the last frame, fail as :class:`BackupDamaged`.

The key box failing is :class:`BackupPassphraseWrong` (a wrong passphrase and an altered key box are one failure,
as everywhere in keys.sealing); any later failure, with the passphrase proven, is :class:`BackupDamaged`.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

from keys.encoding import b64url_decode, b64url_encode
from keys.limits import BACKUP_LINE_BYTES
from keys.sealing import ScryptParams, UnsealFailed, seal, seal_with_key, unseal, unseal_with_key
from xacthuc.backup.errors import BackupDamaged, BackupPassphraseWrong, BackupUnsupported

__all__ = ["FORMAT", "SealedReader", "SealedWriter", "read_header"]

FORMAT = "xacthuc-backup/1"
_KEY_FORMAT = "xacthuc-backup-key/1"
_KEY_INFO = b"xacthuc backup data key"
_FRAME_INFO = b"xacthuc backup frame"
FRAME_SIZE = 1 << 20
_MAX_LINE = BACKUP_LINE_BYTES
_FRAME_HEAD = struct.Struct(">BI")
_SALT, _NONCE, _TAG = 16, 12, 16


def _line(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def _read_line(fh: BinaryIO, what: str) -> bytes:
    line = fh.readline(_MAX_LINE + 1)
    if not line.endswith(b"\n") or len(line) > _MAX_LINE:
        raise BackupDamaged(f"this is not a xacthuc backup, or its {what} is cut off")
    return line


def _json_line(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise BackupDamaged(f"this is not a xacthuc backup: its {what} is not JSON") from None
    if not isinstance(value, dict):
        raise BackupDamaged(f"this is not a xacthuc backup: its {what} is not a JSON object")
    return value


def read_header(fh: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The plaintext header (and its bytes, which the key box binds); no passphrase needed."""
    raw = _read_line(fh, "header")
    header = _json_line(raw, "header")
    if not isinstance(header.get("format"), str) or not header["format"].startswith("xacthuc-backup/"):
        raise BackupDamaged("this is not a xacthuc backup (no xacthuc-backup format in its header)")
    if header["format"] != FORMAT:
        raise BackupUnsupported(f"the backup's format {header['format']} is not {FORMAT}, the one this version reads")
    return header, raw


class SealedWriter(io.RawIOBase):
    """A write-only stream that seals what it is given into frames after the header and the key box."""

    def __init__(self, fh: BinaryIO, header: Mapping[str, Any], passphrase: str, params: ScryptParams) -> None:
        super().__init__()
        self._fh = fh
        self._key = secrets.token_bytes(32)
        self._buf = bytearray()
        self._seq = 0
        head = _line({**header, "format": FORMAT})
        box = seal(
            self._key,
            passphrase,
            info=_KEY_INFO,
            header={"format": _KEY_FORMAT, "header_sha256": hashlib.sha256(head).hexdigest()},
            params=params,
        )
        fh.write(head)
        fh.write(_line(box))

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buf += view
        while len(self._buf) > FRAME_SIZE:
            self._frame(bytes(self._buf[:FRAME_SIZE]), last=False)
            del self._buf[:FRAME_SIZE]
        return len(view)

    def _frame(self, chunk: bytes, *, last: bool) -> None:
        box = seal_with_key(self._key, chunk, info=_FRAME_INFO, header={"frame": self._seq, "last": last})
        salt, nonce, ct = (b64url_decode(box[k]) for k in ("salt", "nonce", "ciphertext"))
        self._fh.write(_FRAME_HEAD.pack(1 if last else 0, len(ct)) + salt + nonce + ct)
        self._seq += 1

    def finish(self) -> None:
        """Seal what is left as the last frame (always one, possibly empty: the reader requires it)."""
        self._frame(bytes(self._buf), last=True)
        self._buf.clear()


class SealedReader(io.RawIOBase):
    """A read-only stream of the archive sealed in a backup file; :class:`BackupDamaged` at the first bad frame."""

    def __init__(self, fh: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._fh = fh
        self._key = key
        self._seq = 0
        self._buf = b""
        self._pos = 0
        self._done = False

    @staticmethod
    def unlock(fh: BinaryIO, passphrase: str) -> tuple[dict[str, Any], bytes]:
        """Read the header and the key box from ``fh`` (left at the first frame): the header and the data key."""
        header, raw = read_header(fh)
        box = _json_line(_read_line(fh, "key box"), "key box")
        if box.get("format") != _KEY_FORMAT or box.get("header_sha256") != hashlib.sha256(raw).hexdigest():
            raise BackupDamaged("the backup's header was altered (the key box binds another one)")
        try:
            key = unseal(box, passphrase, info=_KEY_INFO)
        except UnsealFailed:
            raise BackupPassphraseWrong() from None
        return header, key

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        while self._pos >= len(self._buf):
            if self._done:
                return 0
            self._buf, self._pos = self._next_frame(), 0
        n = min(len(view), len(self._buf) - self._pos)
        view[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def _next_frame(self) -> bytes:
        head = self._fh.read(_FRAME_HEAD.size)
        if len(head) < _FRAME_HEAD.size:
            raise BackupDamaged("the backup is cut off: its last frame is missing")
        flag, length = _FRAME_HEAD.unpack(head)
        if flag not in (0, 1) or length > FRAME_SIZE + _TAG or length < _TAG:
            raise BackupDamaged(f"frame {self._seq} of the backup is malformed")
        body = self._fh.read(_SALT + _NONCE + length)
        if len(body) < _SALT + _NONCE + length:
            raise BackupDamaged(f"the backup is cut off in frame {self._seq}")
        box = {
            "frame": self._seq,
            "last": flag == 1,
            "salt": b64url_encode(body[:_SALT]),
            "nonce": b64url_encode(body[_SALT : _SALT + _NONCE]),
            "ciphertext": b64url_encode(body[_SALT + _NONCE :]),
        }
        try:
            plain = unseal_with_key(self._key, box, info=_FRAME_INFO)
        except UnsealFailed:
            raise BackupDamaged(f"frame {self._seq} of the backup is altered or out of place") from None
        self._seq += 1
        if flag == 1:
            self._done = True
            if self._fh.read(1):
                raise BackupDamaged("the backup has bytes after its last frame")
        return plain
