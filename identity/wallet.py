"""The citizen's wallet: the holder's P-256 key and credentials, sealed in one file (``keys.sealing``: scrypt,
HKDF and AES-256-GCM, the keystore's scheme). Files of the first format (``xacthuc-wallet/1``) still open; saving
writes the current one.

The CLI (``xacthuc wallet import|show|present``) calls :func:`create_wallet`, :func:`open_wallet`,
:meth:`Wallet.import_credential`, :meth:`Wallet.show`, :meth:`Wallet.present` and :meth:`Wallet.save`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from identity import presentation, transport
from identity.errors import WalletError, WalletLocked
from identity.sdjwt import parse_jws, split_compact
from keys.encoding import b64url_decode, b64url_encode
from keys.holder_key import P256Key
from keys.jwk import jwk_thumbprint
from keys.sealing import ScryptParams, UnsealFailed, seal, unseal, unseal_wallet_v1

FORMAT = "xacthuc-wallet/2"
FORMAT_V1 = "xacthuc-wallet/1"  # read only: wallets sealed before the keys.sealing scheme
SCRYPT_N = 2**15
_SEAL_INFO = b"xacthuc wallet"
# Base45 uses space and "%": a link must percent-encode those two and may keep the rest of the QR alphabet as is.
_LINK_SAFE = "$*+-./:"


def verification_link(public_url: str, payload: str) -> str:
    """The link a wallet QR code holds: ``{public_url}/v#<payload>``, with the payload's space and ``%`` escaped."""
    return f"{public_url.rstrip('/')}/v#{quote(payload, safe=_LINK_SAFE)}"


@dataclass
class WalletEntry:
    id: str
    credential: str
    added_at: str


@dataclass
class Wallet:
    """An unlocked wallet. Changes are kept in memory until :meth:`save`."""

    path: Path
    key: P256Key
    entries: list[WalletEntry] = field(default_factory=list)
    scrypt_n: int = SCRYPT_N

    def holder_jwk(self) -> dict[str, Any]:
        """The public key to send to the issuer as ``holder_jwk``."""
        return self.key.public_jwk()

    def import_credential(self, credential: str, now: datetime) -> WalletEntry:
        """Add an issued credential (compact SD-JWT). It must be bound to this wallet's key."""
        sd = split_compact(credential.strip())
        cnf = parse_jws(sd.issuer_jwt).payload.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        try:
            bound = isinstance(jwk, dict) and jwk_thumbprint(jwk) == self.key.kid
        except ValueError:
            bound = False
        if not bound:
            raise WalletError("the credential is not bound to this wallet's key")
        entry = WalletEntry(id=sd.issuer_jwt.rsplit(".", 1)[1][:12], credential=sd.compact(), added_at=now.isoformat())
        self.entries = [e for e in self.entries if e.id != entry.id] + [entry]
        return entry

    def _entry(self, credential_id: str | None) -> WalletEntry:
        if not self.entries:
            raise WalletError("the wallet holds no credential")
        if credential_id is None:
            return self.entries[-1]
        for e in self.entries:
            if e.id == credential_id:
                return e
        raise WalletError("no such credential in the wallet")

    def show(self) -> list[dict[str, Any]]:
        """Each credential with its issuer, expiry and the claims it can disclose."""
        out = []
        for e in self.entries:
            payload = parse_jws(split_compact(e.credential).issuer_jwt).payload
            out.append(
                {
                    "id": e.id,
                    "iss": payload.get("iss"),
                    "vct": payload.get("vct"),
                    "exp": payload.get("exp"),
                    "added_at": e.added_at,
                    "claims": presentation.available_claims(e.credential),
                }
            )
        return out

    def present(
        self,
        claims: list[str],
        *,
        audience: str,
        now: datetime,
        nonce: str | None = None,
        credential_id: str | None = None,
        qr: bool = True,
    ) -> str:
        """A presentation of only ``claims`` with a KB-JWT; by default as the compact ``XI2:`` QR payload."""
        compact = presentation.present(
            self._entry(credential_id).credential, claims, self.key, audience=audience, now=now, nonce=nonce
        )
        return transport.encode(compact) if qr else compact

    def save(self, passphrase: str) -> None:
        content = {
            "holder_key": b64url_encode(self.key.private_bytes()),
            "credentials": [e.__dict__ for e in self.entries],
        }
        box = seal(
            json.dumps(content).encode("utf-8"),
            passphrase,
            info=_SEAL_INFO,
            header={"format": FORMAT},
            params=ScryptParams(n=self.scrypt_n),
        )
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(box, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def create_wallet(path: Path, passphrase: str, *, scrypt_n: int = SCRYPT_N) -> Wallet:
    """A new wallet with a fresh holder key, written to ``path`` (refused if it exists)."""
    if path.exists():
        raise WalletError("a wallet already exists at this path")
    wallet = Wallet(path=path, key=P256Key.generate(), scrypt_n=scrypt_n)
    wallet.save(passphrase)
    return wallet


def open_wallet(path: Path, passphrase: str) -> Wallet:
    """Unlock a wallet. A wrong passphrase and a damaged file fail alike, with :class:`WalletLocked`."""
    try:
        box = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WalletError("the wallet file cannot be read") from exc
    if not isinstance(box, dict) or box.get("format") not in (FORMAT, FORMAT_V1):
        raise WalletError("not a xacthuc wallet file")
    try:
        if box["format"] == FORMAT:
            plain = unseal(box, passphrase, info=_SEAL_INFO)
        else:
            plain = unseal_wallet_v1(box, passphrase)
    except UnsealFailed:
        raise WalletLocked() from None
    content = json.loads(plain)
    return Wallet(
        path=path,
        key=P256Key.from_private_bytes(b64url_decode(content["holder_key"])),
        entries=[WalletEntry(**e) for e in content["credentials"]],
        scrypt_n=int(box["kdf"]["n"]),
    )
