"""The compact QR transport of an SD-JWT presentation: ``XI1:`` + base45(raw deflate(container)).

The container keeps the decoded JSON of each JWS header, payload and disclosure and the raw signatures; decoding
re-encodes them with base64url and restores the exact standard compact SD-JWT, byte for byte, so the issuer
signature and the KB-JWT's ``sd_hash`` still verify. Encoding checks that round trip and otherwise falls back to
carrying the compact text itself (still deflated).

Base45 (RFC 9285) output uses only the QR alphanumeric set, so the whole payload, prefix included, is encoded in
alphanumeric mode (5.5 bits per character). Deflate uses a preset dictionary of our JSON skeleton and claim names.
The dictionary is part of the ``XI1`` format: changing it needs a new prefix.

Container (before deflate): flags byte (bit 0: has KB-JWT, bit 1: raw compact text follows), then in structured
mode: varint count of disclosures, then length-prefixed segments: issuer header JSON, issuer payload JSON, issuer
signature, each disclosure's JSON, and with bit 0 the KB-JWT header JSON, payload JSON and signature.
"""

from __future__ import annotations

import re
import zlib

from identity._crypto import b64u_decode, b64u_encode, b64u_is_canonical
from identity.errors import SdJwtMalformed, TransportError, TransportTooLarge
from identity.sdjwt import SdJwt, split_compact

PREFIX = "XI1:"
MAX_PAYLOAD_CHARS = 8192  # a version 40 QR code holds 4,296 alphanumeric characters
MAX_CONTAINER_BYTES = 64 * 1024
MAX_SEGMENTS = 256
_HAS_KB, _RAW = 1, 2

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}

# Most frequent strings last: deflate reaches the end of the window most cheaply.
ZDICT = (
    "Thành phố Hồ Chí Minh, Việt Nam, Quận Phường Xã Huyện Tỉnh Hà Nội Nguyễn Trần Lê Phạm Thị Văn "
    '"age_over_16",true,"age_over_21",false,"nationality","VN","place_of_origin","'
    '"place_of_residence","personal_id","079"female"male"sex","birth_date","19'
    '"full_name","given_name","family_name","age_over_18",true]'
    '{"alg":"EdDSA","typ":"dc+sd-jwt","kid":"'
    '"status":{"status_list":{"idx":,"uri":"https:///v1/status-lists/"}},'
    '"vct":"urn:vn:hcm:xacthuc:citizen_id:1","cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"","y":""}},'
    '"_sd_alg":"sha-256"}{"iss":"https://","iat":17,"exp":17'
    '{"alg":"ES256","typ":"dc+sd-jwt","kid":"",'
    '"_sd":["","'
    '{"alg":"ES256","typ":"kb+jwt"}{"iat":17,"aud":"","nonce":"","sd_hash":"'
).encode()


def b45_encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += (_B45[c], _B45[d], _B45[e])
    if len(data) % 2:
        c, d = data[-1] % 45, data[-1] // 45
        out += (_B45[c], _B45[d])
    return "".join(out)


def b45_decode(text: str) -> bytes:
    try:
        vals = [_B45_INDEX[c] for c in text]
    except KeyError as exc:
        raise TransportError("payload has a character outside base45") from exc
    if len(vals) % 3 == 1:
        raise TransportError("payload has a bad base45 length")
    out = bytearray()
    for i in range(0, len(vals), 3):
        chunk = vals[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025
            if n > 0xFFFF:
                raise TransportError("payload has a bad base45 group")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise TransportError("payload has a bad base45 group")
            out.append(n)
    return bytes(out)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def varint(self) -> int:
        n = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 28:
                raise TransportError("container is truncated")
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def segment(self) -> bytes:
        n = self.varint()
        if self.pos + n > len(self.data):
            raise TransportError("container is truncated")
        seg = self.data[self.pos : self.pos + n]
        self.pos += n
        return seg


# Inside JSON, a quoted base64url string of 16 bytes or more (digests, salts, key coordinates, kid) becomes
# ESC + length + raw bytes: 32 random bytes as base64url text cost deflate about 34 bytes, raw about 32.
_ESC = 0
_B64_STRING = re.compile(rb'"([A-Za-z0-9_-]{22,86})"')


def _pack_json(seg: bytes) -> bytes:
    if _ESC in seg:
        return seg  # cannot be escaped unambiguously; the round-trip check in encode() then picks raw mode

    def repl(m: re.Match[bytes]) -> bytes:
        text = m.group(1).decode("ascii")
        if not b64u_is_canonical(text):
            return m.group(0)
        raw = b64u_decode(text)
        return bytes([_ESC, len(raw)]) + raw

    return _B64_STRING.sub(repl, seg)


def _unpack_json(seg: bytes) -> bytes:
    out, i = bytearray(), 0
    while True:
        j = seg.find(_ESC, i)
        if j < 0:
            return bytes(out + seg[i:])
        if j + 1 >= len(seg) or j + 2 + seg[j + 1] > len(seg):
            raise TransportError("container has a truncated escape")
        n = seg[j + 1]
        out += seg[i:j] + b'"' + b64u_encode(seg[j + 2 : j + 2 + n]).encode("ascii") + b'"'
        i = j + 2 + n


def _jws_segments(jws: str) -> list[bytes]:
    h, p, sig = (b64u_decode(x) for x in jws.split("."))
    return [_pack_json(h), _pack_json(p), sig]


def _container(sd: SdJwt) -> bytes:
    segments = _jws_segments(sd.issuer_jwt) + [_pack_json(b64u_decode(d)) for d in sd.disclosures]
    if sd.kb_jwt is not None:
        segments += _jws_segments(sd.kb_jwt)
    body = bytearray([_HAS_KB if sd.kb_jwt is not None else 0])
    body += _varint(len(sd.disclosures))
    for seg in segments:
        body += _varint(len(seg)) + seg
    return bytes(body)


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    return c.compress(data) + c.flush()


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj(-15, ZDICT)
    try:
        out = d.decompress(data, MAX_CONTAINER_BYTES + 1)
    except zlib.error as exc:
        raise TransportError("payload is not valid deflate data") from exc
    if len(out) > MAX_CONTAINER_BYTES or d.unconsumed_tail:
        raise TransportTooLarge("payload decompresses beyond the size limit")
    if not d.eof:
        raise TransportError("payload is truncated")
    return out


def encode(compact: str) -> str:
    """The QR payload for a compact SD-JWT (with or without KB-JWT)."""
    sd = split_compact(compact)
    try:
        body = _container(sd)
        structured = _restore(body) == compact
    except (ValueError, TransportError, SdJwtMalformed):
        structured = False
    if not structured:
        body = bytes([_RAW]) + compact.encode("ascii")
    return PREFIX + b45_encode(_deflate(body))


def _restore(body: bytes) -> str:
    if not body:
        raise TransportError("container is empty")
    flags = body[0]
    if flags & ~(_HAS_KB | _RAW):
        raise TransportError("container has unknown flags")
    if flags & _RAW:
        try:
            return body[1:].decode("ascii")
        except UnicodeDecodeError as exc:
            raise TransportError("container text is not ASCII") from exc
    r = _Reader(body)
    r.pos = 1
    n = r.varint()
    if n > MAX_SEGMENTS:
        raise TransportError("container has too many disclosures")
    segs = [r.segment() for _ in range(3 + n + (3 if flags & _HAS_KB else 0))]
    signatures = {2, 3 + n + 2}  # raw signature bytes are not escaped JSON
    enc = [b64u_encode(seg if i in signatures else _unpack_json(seg)) for i, seg in enumerate(segs)]
    if r.pos != len(body):
        raise TransportError("container has trailing data")
    issuer_jwt = ".".join(enc[:3])
    kb = ".".join(enc[3 + n :]) if flags & _HAS_KB else ""
    return "~".join([issuer_jwt, *enc[3 : 3 + n]]) + "~" + kb


def decode(payload: str) -> str:
    """The exact compact SD-JWT a QR payload carries. Size limits apply before any work."""
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise TransportTooLarge("payload is longer than the size limit")
    if not payload.startswith(PREFIX):
        raise TransportError("payload lacks the XI1: prefix")
    return _restore(_inflate(b45_decode(payload[len(PREFIX) :])))


def is_transport(text: str) -> bool:
    return text.startswith(PREFIX)
