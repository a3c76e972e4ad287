"""Migration from the foundation's plain key files (``<data_dir>/keys/plain/*.json``, hex private keys).

The old format was never fixed, so this reads defensively: a JSON object with a hex private key under one of a few
usual names, and hints for its kind (``alg``/``kty``/``crv``/``kind``/``type``) and owner (``agency_id``/``agency``,
else the file name). A file it cannot understand is left in place with a warning, never deleted; a file it has
imported is overwritten with zeros, synced and removed.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keys import _crypto
from keys.errors import XacthucError
from keys.generate import LocalSigner
from keys.keyring import KeyRing
from keys.keystore import Keystore
from keys.validity import RETIRED, from_epoch

log = logging.getLogger(__name__)

_KEY_FIELDS = ("private_key", "privateKey", "private_key_hex", "secret", "key", "hex", "d")
_OWNER_FIELDS = ("agency_id", "agency", "owner", "issuer", "name")
_ETH_HINTS = {"eth", "ethereum", "secp256k1", "es256k", "account"}
_ED_HINTS = {"eddsa", "ed25519", "okp"}
_P256_HINTS = {"es256", "p-256", "p256", "ec", "secp256r1"}


def migrate_plain_keys(keystore: Keystore, now: datetime) -> list[str]:
    """Encrypt legacy plain keys into the keystore and delete them; returns what was imported (no secrets)."""
    plain = keystore.root / "plain"
    if not plain.is_dir():
        return []
    imported: list[str] = []
    for path in sorted(plain.glob("*.json")):
        try:
            what = _import_one(keystore, path, now)
        except (XacthucError, ValueError, TypeError, KeyError, OSError) as exc:
            log.warning("left legacy key file %s in place: %s", path.name, type(exc).__name__)
            continue
        _shred(path)
        imported.append(what)
        log.info("migrated legacy key file %s into the keystore (%s)", path.name, what)
    if imported and not any(plain.iterdir()):
        plain.rmdir()
    return imported


def _import_one(keystore: Keystore, path: Path, now: datetime) -> str:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    raw = _private_bytes(doc)
    hints = {str(doc.get(k, "")).lower() for k in ("alg", "kty", "crv", "kind", "type", "curve")} - {""}
    owner = next((str(doc[k]) for k in _OWNER_FIELDS if isinstance(doc.get(k), str) and doc[k]), path.stem)
    if hints & _ETH_HINTS or (not hints and "address" in doc):
        names = keystore.eth_names()
        name = owner if owner not in names else f"legacy-{path.stem}"
        address = keystore.save_eth_account(name, raw)
        return f"ethereum account {address} as {name}"
    if hints & _ED_HINTS:
        alg = "EdDSA"
    elif hints & _P256_HINTS:
        alg = "ES256"
    else:
        raise ValueError("unknown key kind")
    signer = LocalSigner(_crypto.private_key_from_raw(alg, raw))
    created = doc.get("created_at")
    not_before = _time(created) if created is not None else datetime(1970, 1, 1, tzinfo=UTC)
    if KeyRing.exists(keystore, owner):
        ring = KeyRing.load(keystore, owner)
        if ring.get(signer.kid) is None:
            # it signed what exists so far; the ring's own newer key signs from now on
            ring.import_key(signer, not_before=not_before, not_after=now, status=RETIRED)
    else:
        KeyRing.create(keystore, owner, not_before, signer=signer)
    return f"{alg} key {signer.kid} for {owner}"


def _private_bytes(doc: dict[str, Any]) -> bytes:
    for field in _KEY_FIELDS:
        value = doc.get(field)
        if isinstance(value, str) and value:
            text = value.removeprefix("0x")
            try:
                return bytes.fromhex(text)
            except ValueError:
                return _crypto.b64url_decode(value)  # a JWK "d" is base64url
    raise KeyError("no private key field")


def _time(value: Any) -> datetime:
    if isinstance(value, int):
        return from_epoch(value)
    dt = datetime.fromisoformat(str(value))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _shred(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
