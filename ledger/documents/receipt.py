"""The signed document receipt, its Merkle commitment, and the compact ``XD1:`` payload that goes in the QR code.

A receipt is what an agency signs when it issues a document: who (issuer id, key id), what (document id, file
SHA-256, metadata digest, the number and date a verifier shows offline), when (issued_at) and where it will be
anchored (chain id, registry address). The byte layouts of the signed message, the commitment and the payload are
specified in docs/qr-payload.md; this module is their only implementation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from keys import jws
from keys.encoding import b64url_decode
from keys.limits import DOCUMENT_PAYLOAD_CHARS
from keys.protocols import Signer
from keys.qrtext import b43decode as _b43decode
from keys.qrtext import b43encode
from ledger.documents.errors import (
    PayloadInvalid,
    PayloadTooLarge,
    PayloadVersionUnsupported,
    ReceiptFieldInvalid,
    RegistryUnknown,
    SignerUnsupported,
)

__all__ = [
    "ALLOWED_ALGS",
    "MAX_PAYLOAD_CHARS",
    "PAYLOAD_PREFIX",
    "SHORT_KID_BYTES",
    "Receipt",
    "ReceiptFields",
    "Registry",
    "b43decode",
    "b43encode",
    "commitment",
    "decode_payload",
    "document_id_from_str",
    "document_id_str",
    "encode_payload",
    "kid_bytes",
    "new_document_id",
    "sign_receipt",
    "sign_receipt_with_commitment",
    "signed_bytes",
    "verify_link",
    "verify_signature",
]

PAYLOAD_PREFIX = "XD1:"
MAX_PAYLOAD_CHARS = DOCUMENT_PAYLOAD_CHARS
SHORT_KID_BYTES = 8
SIGNATURE_BYTES = 64
_SIGNED_DOMAIN = b"xacthuc:receipt:v1"
_MAX_ISSUER_BYTES = 64
_MAX_NUMBER_BYTES = 96
_MAX_VARINT_BYTES = 9
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold

_FLAG_REGISTRY = 0x01  # chain id and registry address present (else: the verifier's configured registry)
_FLAG_ISSUER_UUID = 0x02  # issuer id is a canonical UUID, carried as 16 raw bytes
_FLAG_FULL_KID = 0x04  # the whole 32-byte thumbprint, not its first 8 bytes
_KNOWN_FLAGS = _FLAG_REGISTRY | _FLAG_ISSUER_UUID | _FLAG_FULL_KID

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # what str(UUID) writes


# ---------------------------------------------------------------------------------------------------------- codecs
def b43decode(text: str) -> bytes:
    """Strict base43 (keys.qrtext) with the payload's own error."""
    try:
        return _b43decode(text)
    except ValueError as exc:
        raise PayloadInvalid(f"payload is not valid base43: {exc}") from None


# Memoised: every receipt encodes its chain id, issue second and issue date two or three times, and a batch repeats
# them; without the memo, receipts are issued about 8 % slower (docs/benchmarks.md).
@functools.lru_cache(maxsize=1024)
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _lp(data: bytes) -> bytes:
    return _varint(len(data)) + data


class _Reader:
    """A bounds-checked cursor; every failure is a :class:`PayloadInvalid`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise PayloadInvalid(f"payload truncated in {what}")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def varint(self, what: str) -> int:
        n = shift = 0
        for i in range(_MAX_VARINT_BYTES):
            b = self.take(1, what)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b == 0 and i > 0:
                    raise PayloadInvalid(f"non-canonical varint in {what}")
                return n
        raise PayloadInvalid(f"varint too long in {what}")

    def text(self, what: str, limit: int) -> str:
        n = self.varint(what)
        if n > limit:
            raise PayloadInvalid(f"{what} is too long")
        try:
            return self.take(n, what).decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadInvalid(f"{what} is not UTF-8") from None


# ------------------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Registry:
    """Where documents are anchored: an EVM chain id and the DocumentRegistry contract address (20 bytes)."""

    chain_id: int
    address: bytes

    def __post_init__(self) -> None:
        if not (0 < self.chain_id < 2**63) or len(self.address) != 20:
            raise ReceiptFieldInvalid("registry", "needs a positive chain id and a 20-byte address")

    @classmethod
    def of(cls, chain_id: int, address: str) -> Registry:
        """From a ``0x``-prefixed hex address (any case)."""
        try:
            raw = bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))
        except ValueError:
            raise ReceiptFieldInvalid("registry", "the address is not hex") from None
        return cls(chain_id, raw)

    @property
    def hex_address(self) -> str:
        return "0x" + self.address.hex()


@dataclass(frozen=True)
class ReceiptFields:
    """What :func:`sign_receipt` signs; ``kid`` comes from the signer."""

    issuer_id: str
    document_id: bytes  # 16 bytes, see new_document_id
    file_sha256: bytes
    metadata_digest: bytes
    issued_at: datetime
    registry: Registry
    number: str  # the canonical number and symbol, str(DocumentNumber)
    issued_on: date


@dataclass(frozen=True)
class Receipt:
    """A signed receipt. ``kid`` is the signed key id: the first 8 bytes of the RFC 7638 thumbprint, or all 32."""

    issuer_id: str
    kid: bytes
    document_id: bytes
    file_sha256: bytes
    metadata_digest: bytes
    issued_at: datetime
    registry: Registry
    number: str
    issued_on: date
    signature: bytes
    version: int = 1

    @property
    def document_id_str(self) -> str:
        return document_id_str(self.document_id)

    def claims(self) -> dict[str, object]:
        """The signed facts a verifier shows, JSON-ready."""
        return {
            "document_id": self.document_id_str,
            "number": self.number,
            "issued_on": self.issued_on.isoformat(),
            "issued_at": self.issued_at.isoformat().replace("+00:00", "Z"),
            "sha256": self.file_sha256.hex(),
            "metadata_digest": self.metadata_digest.hex(),
            "chain_id": self.registry.chain_id,
            "contract": self.registry.hex_address,
        }


def _check_fields(f: ReceiptFields | Receipt) -> None:
    for name, value, size in (
        ("document_id", f.document_id, 16),
        ("file_sha256", f.file_sha256, 32),
        ("metadata_digest", f.metadata_digest, 32),
    ):
        if not isinstance(value, bytes) or len(value) != size:
            raise ReceiptFieldInvalid(name, f"must be {size} bytes")
    if f.issued_at.tzinfo is None:
        raise ReceiptFieldInvalid("issued_at", "must be timezone-aware")
    if not (0 < f.issued_at.timestamp() <= _MAX_SECONDS):
        raise ReceiptFieldInvalid("issued_at", "is out of range")
    for name, text, limit in (("issuer_id", f.issuer_id, _MAX_ISSUER_BYTES), ("number", f.number, _MAX_NUMBER_BYTES)):
        if not text or not unicodedata.is_normalized("NFC", text) or len(text.encode("utf-8")) > limit:
            raise ReceiptFieldInvalid(name, f"must be non-empty NFC text of at most {limit} bytes")


def _seconds(t: datetime) -> int:
    return int(t.timestamp())


def signed_bytes(r: Receipt | ReceiptFields, kid: bytes | None = None) -> bytes:
    """The exact bytes the issuer signs (docs/qr-payload.md, "Signed message")."""
    if isinstance(r, Receipt):
        return _signed_bytes(r, r.kid)
    if kid is None:
        raise ReceiptFieldInvalid("kid", "is required")
    return _signed_bytes(r, kid)


def _signed_bytes(r: Receipt | ReceiptFields, kid: bytes) -> bytes:
    return b"".join(
        (
            _SIGNED_DOMAIN,
            _varint(r.registry.chain_id),
            r.registry.address,
            _lp(r.issuer_id.encode("utf-8")),
            _lp(kid),
            r.document_id,
            r.file_sha256,
            r.metadata_digest,
            _varint(_seconds(r.issued_at)),
            _varint(r.issued_on.toordinal()),
            _lp(r.number.encode("utf-8")),
        )
    )


def commitment(receipt: Receipt) -> bytes:
    """The document's Merkle leaf data: SHA-256 of the signed message (the signature is not part of it)."""
    return hashlib.sha256(signed_bytes(receipt)).digest()


def kid_bytes(kid: str) -> bytes:
    """A JWK thumbprint ``kid`` (base64url, 43 characters) as its 32 raw bytes."""
    if len(kid) != 43:
        raise SignerUnsupported("the signer's kid is not an RFC 7638 SHA-256 thumbprint")
    try:
        raw = b64url_decode(kid)
    except ValueError:
        raise SignerUnsupported("the signer's kid is not base64url") from None
    if len(raw) != 32:
        raise SignerUnsupported("the signer's kid is not an RFC 7638 SHA-256 thumbprint")
    return raw


def sign_receipt(signer: Signer, fields: ReceiptFields, *, short_kid: bool = True) -> Receipt:
    """Sign ``fields`` with ``signer`` (ES256 or EdDSA). ``issued_at`` is truncated to whole seconds."""
    return sign_receipt_with_commitment(signer, fields, short_kid=short_kid)[0]


def sign_receipt_with_commitment(
    signer: Signer, fields: ReceiptFields, *, short_kid: bool = True
) -> tuple[Receipt, bytes]:
    """:func:`sign_receipt` and the receipt's :func:`commitment`, from the one signed message it builds (issuing
    needs both; building the message twice cost about 4 % of bulk issuance)."""
    if signer.alg not in ("ES256", "EdDSA"):
        raise SignerUnsupported(f"receipts are signed with ES256 or EdDSA, not {signer.alg!r}")
    issued_at = fields.issued_at
    if issued_at.tzinfo is None:
        raise ReceiptFieldInvalid("issued_at", "must be timezone-aware")
    if issued_at.microsecond or issued_at.tzinfo is not UTC:  # a bulk caller passes whole UTC seconds already
        fields = dataclasses.replace(fields, issued_at=issued_at.astimezone(UTC).replace(microsecond=0))
    _check_fields(fields)
    kid = kid_bytes(signer.kid)
    if short_kid:
        kid = kid[:SHORT_KID_BYTES]
    message = _signed_bytes(fields, kid)
    signature = signer.sign(message)
    if len(signature) != SIGNATURE_BYTES:
        raise SignerUnsupported("the signer returned a signature that is not 64 bytes")
    receipt = Receipt(
        issuer_id=fields.issuer_id,
        kid=kid,
        document_id=fields.document_id,
        file_sha256=fields.file_sha256,
        metadata_digest=fields.metadata_digest,
        issued_at=fields.issued_at,
        registry=fields.registry,
        number=fields.number,
        issued_on=fields.issued_on,
        signature=signature,
    )
    return receipt, hashlib.sha256(message).digest()


# --------------------------------------------------------------------------------------------------- the payload
def _uuid_bytes(issuer_id: str) -> bytes | None:
    """The 16 bytes of an issuer id written as a canonical UUID (lowercase, hyphenated), else None."""
    if _CANONICAL_UUID.fullmatch(issuer_id) is None:
        return None
    return uuid.UUID(issuer_id).bytes


def encode_payload(receipt: Receipt, *, registry: Registry | None = None) -> str:
    """The compact payload ``XD1:<base43>``; the chain id and address are left out when they equal ``registry``."""
    flags = 0
    parts: list[bytes] = [b""]  # the flags byte, set below
    if receipt.registry != registry:
        flags |= _FLAG_REGISTRY
        parts += (_varint(receipt.registry.chain_id), receipt.registry.address)
    issuer_uuid = _uuid_bytes(receipt.issuer_id)
    if issuer_uuid is not None:
        flags |= _FLAG_ISSUER_UUID
        parts.append(issuer_uuid)
    else:
        parts.append(_lp(receipt.issuer_id.encode("utf-8")))
    if len(receipt.kid) == 32:
        flags |= _FLAG_FULL_KID
    elif len(receipt.kid) != SHORT_KID_BYTES:
        raise ReceiptFieldInvalid("kid", "must be 8 or 32 bytes")
    parts += (
        receipt.kid,
        receipt.document_id,
        receipt.file_sha256,
        receipt.metadata_digest,
        _varint(_seconds(receipt.issued_at)),
        _varint(receipt.issued_on.toordinal()),
        _lp(receipt.number.encode("utf-8")),
        receipt.signature,
    )
    parts[0] = bytes((flags,))
    return PAYLOAD_PREFIX + b43encode(b"".join(parts))


def decode_payload(text: str, *, registry: Registry | None = None) -> Receipt:
    """Parse an ``XD1:`` payload; every malformed input raises a :class:`PayloadInvalid` subclass.

    ``registry`` is the verifier's configured registry, used when the payload leaves it out. Decoding checks the
    format only: the signature is checked by the verifier against the trust list.
    """
    if not isinstance(text, str):
        raise PayloadInvalid("payload must be text")
    if len(text) > MAX_PAYLOAD_CHARS:
        raise PayloadTooLarge(f"payload is longer than {MAX_PAYLOAD_CHARS} characters")
    if not text.startswith(PAYLOAD_PREFIX):
        if text[:2] == "XD" and text[3:4] == ":":
            raise PayloadVersionUnsupported(f"unsupported document payload version {text[:3]!r}")
        raise PayloadInvalid("not a document payload (expected the XD1: prefix)")
    r = _Reader(b43decode(text[len(PAYLOAD_PREFIX) :]))
    flags = r.take(1, "flags")[0]
    if flags & ~_KNOWN_FLAGS:
        raise PayloadInvalid("payload has unknown flags")
    if flags & _FLAG_REGISTRY:
        chain_id = r.varint("chain id")
        address = r.take(20, "registry address")
        if not 0 < chain_id < 2**63:
            raise PayloadInvalid("chain id out of range")
        reg = Registry(chain_id, address)
    elif registry is None:
        raise RegistryUnknown()
    else:
        reg = registry
    if flags & _FLAG_ISSUER_UUID:
        issuer_id = str(uuid.UUID(bytes=r.take(16, "issuer id")))
    else:
        issuer_id = r.text("issuer id", _MAX_ISSUER_BYTES)
        if _uuid_bytes(issuer_id) is not None:
            raise PayloadInvalid("non-canonical issuer id encoding")
    kid = r.take(32 if flags & _FLAG_FULL_KID else SHORT_KID_BYTES, "kid")
    document_id = r.take(16, "document id")
    file_sha256 = r.take(32, "file hash")
    meta = r.take(32, "metadata digest")
    seconds = r.varint("issued_at")
    day = r.varint("issued_on")
    number = r.text("number", _MAX_NUMBER_BYTES)
    signature = r.take(SIGNATURE_BYTES, "signature")
    if r.pos != len(r.data):
        raise PayloadInvalid("payload has trailing bytes")
    if not 0 < seconds <= _MAX_SECONDS or not 0 < day <= date.max.toordinal():
        raise PayloadInvalid("payload date out of range")
    receipt = Receipt(
        issuer_id=issuer_id,
        kid=kid,
        document_id=document_id,
        file_sha256=file_sha256,
        metadata_digest=meta,
        issued_at=datetime.fromtimestamp(seconds, UTC),
        registry=reg,
        number=number,
        issued_on=date.fromordinal(day),
        signature=signature,
    )
    try:
        _check_fields(receipt)
    except ReceiptFieldInvalid as exc:
        raise PayloadInvalid(f"payload field invalid: {exc.message}") from None
    return receipt


def verify_link(public_url: str, payload: str) -> str:
    """The verification link a QR code holds: ``{public_url}/v#{payload}``."""
    return f"{public_url.rstrip('/')}/v#{payload}"


# ------------------------------------------------------------------------------------------------- document ids
def new_document_id(now: datetime, randbytes: Callable[[int], bytes] = os.urandom) -> bytes:
    """A ULID: 48-bit Unix milliseconds then 80 random bits, so ids sort by issue time."""
    ms = int(now.timestamp() * 1000)
    if not 0 <= ms < 2**48:
        raise ReceiptFieldInvalid("document_id", "time out of range")
    rand = randbytes(10)
    if len(rand) != 10:
        raise ReceiptFieldInvalid("document_id", "needs 10 random bytes")
    return ms.to_bytes(6, "big") + rand


def document_id_str(raw: bytes) -> str:
    """The 26-character Crockford base32 (ULID) form of a 16-byte document id."""
    n = int.from_bytes(raw, "big")
    return "".join([_CROCKFORD[(n >> shift) & 31] for shift in range(125, -1, -5)])  # 26 x 5 bits, the top 2 are 0


def document_id_from_str(text: str) -> bytes:
    """Inverse of :func:`document_id_str` (case-insensitive); a malformed id is a 422."""
    text = text.upper()
    if len(text) != 26 or any(c not in _CROCKFORD for c in text) or text[0] > "7":
        raise ReceiptFieldInvalid("document_id", "must be a 26-character ULID")
    n = 0
    for c in text:
        n = n * 32 + _CROCKFORD.index(c)
    return n.to_bytes(16, "big")


# ---------------------------------------------------------------------------------------------------- signatures
ALLOWED_ALGS: frozenset[str] = jws.ALLOWED_ALGS


def verify_signature(receipt: Receipt, alg: str, jwk: Mapping[str, Any]) -> bool:
    """Check the receipt's signature with a trusted key. ``alg`` comes from the trust list, never the payload.

    The check is the crypto core's (``keys.jws.verify_signature``): any algorithm outside ES256/EdDSA, a JWK of
    another type, or a malformed key is simply ``False``.
    """
    if len(receipt.signature) != SIGNATURE_BYTES:
        return False
    return jws.verify_signature(alg, jwk, signed_bytes(receipt), receipt.signature)
