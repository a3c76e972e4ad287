"""The encrypted keystore under ``<data_dir>/keys/``.

Layout and format (docs/keys.md has the reasoning):

- ``keystore.json``: scrypt parameters and salt, and a check value derived from the passphrase. Opening the
  keystore runs scrypt once; a wrong passphrase fails here with one opaque ``KeystoreUnlockFailed``.
- ``sig/<kid>.json``: a signature key as PKCS#8 DER sealed with AES-256-GCM under a per-file key derived (HKDF)
  from the scrypt master key (``keys.sealing.seal_with_key``); the header fields are the AEAD's associated data.
  Because the passphrase is already proven by the check value, a failing tag here means the file was altered:
  ``KeystoreCorrupt``.
- ``eth/<name>.json``: an Ethereum account in Web3 Secret Storage (v3, scrypt) format, so standard tools can import
  it, plus an ``xacthuc_mac`` member (HMAC under a key derived from the master key) that detects tampering.
- ``records/<name>.json``: small JSON records (key-ring metadata, city state), each MACed with its name bound in.

Every file is written atomically (temp file, fsync, rename, fsync of the directory) with mode 0600 in 0700
directories. Nothing secret ever appears in an exception message or a log line.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keys import _crypto, sealing
from keys.errors import (
    InvalidInput,
    KeyNotFound,
    KeystoreCorrupt,
    KeystoreError,
    KeystoreExists,
    KeystorePassphraseMissing,
    KeystoreUnlockFailed,
)
from keys.generate import LocalSigner

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger(__name__)

FORMAT = "xacthuc-keystore/1"
SIG_FORMAT = "xacthuc-sigkey/1"
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_MIN_PASSPHRASE = 8
GENERATION_FILE = "generation"
_SIG_INFO = b"xacthuc sig key"  # HKDF label of signature-key files (keys.sealing.seal_with_key)
_SIG_MEMBERS = {"format", "kid", "alg", "salt", "nonce", "ciphertext"}


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost. The default (N=2^17, r=8: 128 MiB, a fraction of a second) runs once per process;
    tests pass a cheap one. Stored in the files, so any stored cost within bounds can be opened."""

    n: int = 2**17
    r: int = 8
    p: int = 1
    eth_n: int = 2**17  # Web3 Secret Storage scrypt N for Ethereum key files

    def check(self) -> None:
        for n in (self.n, self.eth_n):
            if n < 2**10 or n > 2**20 or n & (n - 1):
                raise InvalidInput("scrypt N must be a power of two between 2^10 and 2^20")
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise InvalidInput("scrypt r or p out of range")


TEST_KDF = KdfParams(n=2**10, r=8, p=1, eth_n=2**10)  # only for tests and benchmarks


class Passphrase:
    """A keystore passphrase and where it came from. Its repr never shows the value."""

    __slots__ = ("dev_mode", "source", "value")

    def __init__(self, value: str, *, source: str = "argument", dev_mode: bool = False) -> None:
        if not isinstance(value, str) or not value:
            raise KeystorePassphraseMissing(f"the keystore passphrase ({source}) is empty")
        self.value = value
        self.source = source
        self.dev_mode = dev_mode

    def __repr__(self) -> str:
        return f"Passphrase(source={self.source!r}, dev_mode={self.dev_mode})"

    __str__ = __repr__


def _as_passphrase(p: Passphrase | str) -> Passphrase:
    return p if isinstance(p, Passphrase) else Passphrase(p)


def passphrase_from_file(path: Path) -> Passphrase:
    """The passphrase in ``path`` (one line; the trailing newline is dropped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeystoreError(f"cannot read the passphrase file {path}: {exc.strerror}") from None
    return Passphrase(text.rstrip("\r\n"), source=f"file {path}")


def dev_passphrase(data_dir: Path) -> Passphrase:
    """Development only: a random passphrase kept in ``<data_dir>/dev-passphrase`` (0600), created on first use.

    The result has ``dev_mode=True`` so the server can warn loudly that keys are only as safe as that file.
    """
    path = data_dir / "dev-passphrase"
    if not path.exists():
        ensure_private_dir(data_dir)
        atomic_write(path, _crypto.b64url_encode(_crypto.random_bytes(32)).encode("ascii") + b"\n")
    return Passphrase(path.read_text(encoding="utf-8").strip(), source=f"dev file {path}", dev_mode=True)


# --- files ----------------------------------------------------------------------------------------------------------


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.{_crypto.b64url_encode(_crypto.random_bytes(6))}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeystoreCorrupt(f"cannot read keystore file {path.name}: {exc.strerror}", path=str(path)) from None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeystoreCorrupt(f"keystore file {path.name} is truncated or not JSON", path=str(path)) from None
    if not isinstance(value, dict):
        raise KeystoreCorrupt(f"keystore file {path.name} is not a JSON object", path=str(path))
    return value


def _b64(doc: dict[str, Any], field: str, path: Path) -> bytes:
    try:
        return _crypto.b64url_decode(doc[field])
    except (KeyError, _crypto.CryptoInputError):
        raise KeystoreCorrupt(f"keystore file {path.name} has a bad {field}", path=str(path)) from None


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("keystore names are 1-128 letters, digits, '-', '_' or '.'")
    return name


# --- the keystore ---------------------------------------------------------------------------------------------------


class Keystore:
    """An unlocked keystore. Get one with ``Keystore.create`` or ``Keystore.open``."""

    def __init__(self, root: Path, master: bytes, passphrase: Passphrase, kdf: KdfParams) -> None:
        self.root = root
        self._generation_file = str(root / GENERATION_FILE)  # read on every verification: the path built once
        self._master = master
        self._passphrase = passphrase
        self._kdf = kdf
        self._record_key = _crypto.hkdf(master, info=b"xacthuc record mac")
        self._eth_mac_key = _crypto.hkdf(master, info=b"xacthuc eth file mac")
        self._signers: dict[str, LocalSigner] = {}
        self._eth: dict[str, LocalAccount] = {}
        self._lock = threading.RLock()
        self._lock_depth = 0

    def __repr__(self) -> str:
        return f"Keystore(root={str(self.root)!r})"

    @staticmethod
    def exists(root: Path) -> bool:
        return (root / "keystore.json").exists()

    @classmethod
    def create(cls, root: Path, passphrase: Passphrase | str, *, kdf: KdfParams | None = None) -> Keystore:
        """A new, empty keystore at ``root`` (``<data_dir>/keys``)."""
        pp, kdf = _as_passphrase(passphrase), kdf or KdfParams()
        kdf.check()
        if len(pp.value) < _MIN_PASSPHRASE:
            raise InvalidInput(f"the keystore passphrase must have at least {_MIN_PASSPHRASE} characters")
        if cls.exists(root):
            raise KeystoreExists(f"a keystore already exists in {root}")
        ensure_private_dir(root)
        salt = _crypto.random_bytes(16)
        master = _crypto.scrypt(pp.value.encode("utf-8"), salt, n=kdf.n, r=kdf.r, p=kdf.p)
        header = {
            "format": FORMAT,
            "kdf": {"name": "scrypt", "n": kdf.n, "r": kdf.r, "p": kdf.p, "salt": _crypto.b64url_encode(salt)},
            "eth_kdf_n": kdf.eth_n,
            "check": _crypto.b64url_encode(_check_value(master)),
        }
        header["checksum"] = hashlib.sha256(_canonical(header)).hexdigest()
        atomic_write(root / "keystore.json", _canonical(header))
        log.info("created keystore in %s", root)
        return cls(root, master, pp, kdf)

    @classmethod
    def open(cls, root: Path, passphrase: Passphrase | str) -> Keystore:
        """Unlock the keystore at ``root``. A wrong passphrase raises ``KeystoreUnlockFailed`` and nothing else."""
        pp = _as_passphrase(passphrase)
        path = root / "keystore.json"
        try:
            header = _read_json(path)
        except FileNotFoundError:
            raise KeystoreError(f"no keystore in {root}") from None
        body = {k: v for k, v in header.items() if k != "checksum"}
        if header.get("format") != FORMAT or header.get("checksum") != hashlib.sha256(_canonical(body)).hexdigest():
            raise KeystoreCorrupt("keystore.json is altered or of an unknown format", path=str(path))
        try:
            k = header["kdf"]
            kdf = KdfParams(n=int(k["n"]), r=int(k["r"]), p=int(k["p"]), eth_n=int(header["eth_kdf_n"]))
            kdf.check()
        except (KeyError, TypeError, ValueError, InvalidInput):
            raise KeystoreCorrupt("keystore.json has bad KDF parameters", path=str(path)) from None
        salt, check = _b64(k, "salt", path), _b64(header, "check", path)
        master = _crypto.scrypt(pp.value.encode("utf-8"), salt, n=kdf.n, r=kdf.r, p=kdf.p)
        if not _crypto.mac_equal(_check_value(master), check):
            log.warning("keystore unlock failed in %s", root)
            raise KeystoreUnlockFailed()
        return cls(root, master, pp, kdf)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across threads and processes (``flock`` on ``.lock``), re-entrant within one thread."""
        with self._lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    # -- signature keys

    def save_signer(self, signer: LocalSigner) -> None:
        """Seal ``signer``'s private key into ``sig/<kid>.json``."""
        d = self.root / "sig"
        ensure_private_dir(d)
        header = {"format": SIG_FORMAT, "kid": signer.kid, "alg": signer.alg}
        doc = sealing.seal_with_key(self._master, signer.to_pkcs8(), info=_SIG_INFO, header=header)
        atomic_write(d / f"{signer.kid}.json", _canonical(doc))
        self._signers[signer.kid] = signer

    def load_signer(self, kid: str) -> LocalSigner:
        """The signature key ``kid``; ``KeystoreCorrupt`` if its file was altered, ``KeyNotFound`` if absent."""
        if kid in self._signers:
            return self._signers[kid]
        path = self.root / "sig" / f"{_check_name(kid)}.json"
        try:
            doc = _read_json(path)
        except FileNotFoundError:
            raise KeyNotFound(f"no signature key {kid} in the keystore", kid=kid) from None
        if doc.get("format") != SIG_FORMAT or doc.get("kid") != kid or doc.keys() != _SIG_MEMBERS:
            raise KeystoreCorrupt(f"keystore file {path.name} is altered", path=str(path))
        try:
            signer = LocalSigner.from_pkcs8(sealing.unseal_with_key(self._master, doc, info=_SIG_INFO))
        except _crypto.CryptoInputError:  # UnsealFailed is one
            raise KeystoreCorrupt(f"keystore file {path.name} is altered", path=str(path)) from None
        if signer.kid != kid or signer.alg != doc["alg"]:
            raise KeystoreCorrupt(f"keystore file {path.name} holds another key", path=str(path))
        self._signers[kid] = signer
        return signer

    def signer_kids(self) -> list[str]:
        d = self.root / "sig"
        return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []

    # -- Ethereum accounts

    def save_eth_account(self, name: str, private_key: bytes) -> str:
        """Store an Ethereum key as ``eth/<name>.json`` (Web3 Secret Storage); returns its checksummed address."""
        from eth_account import Account

        d = self.root / "eth"
        ensure_private_dir(d)
        path = d / f"{_check_name(name)}.json"
        doc: dict[str, Any] = Account.encrypt(
            private_key, self._passphrase.value, kdf="scrypt", iterations=self._kdf.eth_n
        )
        doc["xacthuc_name"] = name
        doc["xacthuc_mac"] = _crypto.b64url_encode(_crypto.mac(self._eth_mac_key, _canonical(doc)))
        atomic_write(path, _canonical(doc))
        account: LocalAccount = Account.from_key(private_key)
        self._eth[name] = account
        self._changed()
        return str(account.address)

    def _eth_doc(self, name: str) -> tuple[dict[str, Any], Path]:
        path = self.root / "eth" / f"{_check_name(name)}.json"
        try:
            doc = _read_json(path)
        except FileNotFoundError:
            raise KeyNotFound(f"no Ethereum account {name} in the keystore") from None
        tag = _b64(doc, "xacthuc_mac", path)
        body = {k: v for k, v in doc.items() if k != "xacthuc_mac"}
        if body.get("xacthuc_name") != name or not _crypto.mac_equal(
            tag, _crypto.mac(self._eth_mac_key, _canonical(body))
        ):
            raise KeystoreCorrupt(f"keystore file {path.name} is altered", path=str(path))
        return body, path

    def eth_address(self, name: str) -> str:
        """The account's checksummed address, without decrypting the key."""
        from eth_utils.address import to_checksum_address

        body, path = self._eth_doc(name)
        try:
            return str(to_checksum_address("0x" + str(body["address"]).removeprefix("0x")))
        except (KeyError, ValueError):
            raise KeystoreCorrupt(f"keystore file {path.name} has a bad address", path=str(path)) from None

    def load_eth_account(self, name: str) -> LocalAccount:
        """The unlocked Ethereum account ``name`` (decrypted once, then cached)."""
        if name in self._eth:
            return self._eth[name]
        from eth_account import Account

        body, path = self._eth_doc(name)
        v3 = {k: v for k, v in body.items() if not k.startswith("xacthuc_")}
        try:
            account: LocalAccount = Account.from_key(Account.decrypt(v3, self._passphrase.value))
        except Exception:  # eth_account raises ValueError, KeyError, TypeError... for a bad file
            raise KeystoreCorrupt(f"keystore file {path.name} cannot be decrypted", path=str(path)) from None
        if account.address.lower().removeprefix("0x") != str(body.get("address", "")).lower().removeprefix("0x"):
            raise KeystoreCorrupt(f"keystore file {path.name} holds another account", path=str(path))
        self._eth[name] = account
        return account

    def eth_names(self) -> list[str]:
        d = self.root / "eth"
        return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []

    # -- MACed records

    def write_record(self, name: str, data: dict[str, Any]) -> None:
        """Store ``data`` as ``records/<name>.json`` with a MAC binding its content and name."""
        d = self.root / "records"
        ensure_private_dir(d)
        tag = _crypto.mac(self._record_key, _canonical({"name": name, "data": data}))
        atomic_write(d / f"{_check_name(name)}.json", _canonical({"data": data, "mac": _crypto.b64url_encode(tag)}))
        self._changed()

    def read_record(self, name: str) -> dict[str, Any] | None:
        """The record ``name``, ``None`` if absent; ``KeystoreCorrupt`` if its MAC does not match."""
        path = self.root / "records" / f"{_check_name(name)}.json"
        try:
            doc = _read_json(path)
        except FileNotFoundError:
            return None
        data, tag = doc.get("data"), _b64(doc, "mac", path)
        if not isinstance(data, dict) or not _crypto.mac_equal(
            tag, _crypto.mac(self._record_key, _canonical({"name": name, "data": data}))
        ):
            raise KeystoreCorrupt(f"keystore file {path.name} is altered", path=str(path))
        return data

    def record_names(self) -> list[str]:
        d = self.root / "records"
        return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []

    # -- change signal

    def generation(self) -> str:
        """An opaque mark that changes whenever any process writes a record or an Ethereum account here.

        Caches of what those files say (the trust list, the anchoring accounts) compare it, one small file read,
        instead of re-reading and re-checking every ring. It is written after the file it announces, so whoever
        sees a new mark also sees the change.
        """
        try:  # os-level calls: read on every verification, pathlib's text layer cost more than the read itself
            fd = os.open(self._generation_file, os.O_RDONLY)
        except FileNotFoundError:
            return ""
        try:
            return os.read(fd, 256).decode("ascii")
        finally:
            os.close(fd)

    def _changed(self) -> None:
        # A fresh random mark needs no read-modify-write, so no lock: two writers just leave two different marks.
        atomic_write(self.root / GENERATION_FILE, _crypto.b64url_encode(_crypto.random_bytes(12)).encode("ascii"))


def _check_value(master: bytes) -> bytes:
    return _crypto.mac(_crypto.hkdf(master, info=b"xacthuc keystore check"), b"passphrase check")
