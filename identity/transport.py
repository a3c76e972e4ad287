"""The compact QR transport of an SD-JWT presentation: ``XI2:`` + base43(raw deflate(container)).

The container keeps the decoded JSON of each JWS header, payload and disclosure and the raw signatures; decoding
re-encodes them with base64url and restores the exact standard compact SD-JWT, byte for byte, so the issuer
signature and the KB-JWT's ``sd_hash`` still verify. Encoding checks that round trip and otherwise falls back to
carrying the compact text itself (still deflated).

Base43 is QR alphanumeric minus space and ``%`` (the documents' ``XD1`` alphabet, ``docs/qr-payload.md``): the whole
payload, prefix included, is encoded in alphanumeric mode (5.5 bits per character) and every character is allowed
raw in a ``…/v#<payload>`` link, so the link needs no percent-encoding. Deflate uses a preset dictionary of our JSON
skeleton and claim names; the dictionary is part of the format: changing it needs a new prefix.

Container (before deflate): flags byte (bit 0: has KB-JWT, bit 1: raw compact text follows), then in structured
mode: varint count of disclosures, then length-prefixed segments: issuer header JSON, issuer payload JSON, issuer
signature, each disclosure's JSON, and with bit 0 the KB-JWT header JSON, payload JSON and signature.

Inside a JSON segment, a quoted base64url string is replaced by a shorter form when the decoder can rebuild it: a
disclosure's digest (it is SHA-256 of that disclosure's text, which the container carries) by a 2-byte reference,
the KB-JWT's ``sd_hash`` (SHA-256 of the presented SD-JWT) by 1 byte, any other string of 16 bytes or more by its
raw bytes. ``XI1:`` payloads (base45, raw strings only) are still decoded.
"""

from __future__ import annotations

import re
import zlib

from identity.errors import SdJwtMalformed, TransportError, TransportTooLarge
from identity.presentation import sd_hash
from identity.sdjwt import SdJwt, split_compact
from keys import qrtext
from keys.encoding import b64url_decode, b64url_encode, sha256_b64url
from keys.limits import ID_CONTAINER_BYTES, ID_PAYLOAD_CHARS, ID_SEGMENTS

PREFIX = "XI2:"
PREFIX_V1 = "XI1:"  # base45, which needs percent-encoding in a link; decoded, never produced
MAX_PAYLOAD_CHARS = ID_PAYLOAD_CHARS
MAX_CONTAINER_BYTES = ID_CONTAINER_BYTES
MAX_SEGMENTS = ID_SEGMENTS
_HAS_KB, _RAW = 1, 2

_B43 = qrtext.B43_ALPHABET  # the documents' alphabet and digit order (keys.qrtext serves both)

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


b43_encode = qrtext.b43encode
b45_encode = qrtext.b45encode


def b43_decode(text: str) -> bytes:
    try:
        return qrtext.b43decode(text)
    except ValueError as exc:
        raise TransportError(f"payload is not valid base43: {exc}") from None


def b45_decode(text: str) -> bytes:
    try:
        return qrtext.b45decode(text)
    except ValueError as exc:
        raise TransportError(f"payload is not valid base45: {exc}") from None


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
# ESC + length + raw bytes: 32 random bytes as base64url text cost deflate about 34 bytes, raw about 32. A string the
# decoder can compute costs less: REF + disclosure index for a disclosure's digest, SD_HASH for the KB-JWT's sd_hash.
# JSON text never holds raw bytes 0-2 (control characters must be escaped), so the markers are unambiguous.
_ESC, _REF, _SD_HASH = 0, 1, 2
_MARKERS = bytes([_ESC, _REF, _SD_HASH])
_B64_STRING = re.compile(rb'"([A-Za-z0-9_-]{22,86})"')


def _pack_json(seg: bytes, computed: dict[str, bytes] | None = None) -> bytes:
    """``seg`` with base64url strings shortened; ``computed`` maps strings the decoder can rebuild to their marker."""
    if seg.translate(None, _MARKERS) != seg:
        return seg  # cannot be escaped unambiguously; the round-trip check in encode() then picks raw mode

    def repl(m: re.Match[bytes]) -> bytes:
        text = m.group(1).decode("ascii")
        if computed and text in computed:
            return computed[text]
        try:
            raw = b64url_decode(text)  # strict: only a canonical text decodes, so re-encoding gives it back
        except ValueError:
            return m.group(0)
        return bytes([_ESC, len(raw)]) + raw

    return _B64_STRING.sub(repl, seg)


def _unpack_json(seg: bytes, digests: list[str] | None = None, presented_hash: str | None = None) -> bytes:
    """Inverse of :func:`_pack_json`. Without ``digests`` and ``presented_hash`` (``XI1``), only ESC is a marker."""
    out, i = bytearray(), 0
    markers = _MARKERS if digests is not None else bytes([_ESC])
    while True:
        j = min((k for k in (seg.find(m, i) for m in markers) if k >= 0), default=-1)
        if j < 0:
            return bytes(out + seg[i:])
        out += seg[i:j]
        if seg[j] == _ESC:
            if j + 1 >= len(seg) or j + 2 + seg[j + 1] > len(seg):
                raise TransportError("container has a truncated escape")
            n = seg[j + 1]
            text, i = b64url_encode(seg[j + 2 : j + 2 + n]), j + 2 + n
        elif seg[j] == _REF:
            if digests is None or j + 1 >= len(seg) or seg[j + 1] >= len(digests):
                raise TransportError("container refers to a missing disclosure")
            text, i = digests[seg[j + 1]], j + 2
        else:
            if presented_hash is None:
                raise TransportError("container has sd_hash outside the key-binding JWT")
            text, i = presented_hash, j + 1
        out += b'"' + text.encode("ascii") + b'"'


def _container(sd: SdJwt) -> bytes:
    refs = {sha256_b64url(d.encode("ascii")): bytes([_REF, i]) for i, d in enumerate(sd.disclosures) if i < 256}
    h, p, sig = (b64url_decode(x) for x in sd.issuer_jwt.split("."))
    segments = [_pack_json(h), _pack_json(p, refs), sig] + [_pack_json(b64url_decode(d)) for d in sd.disclosures]
    if sd.kb_jwt is not None:
        kh, kp, ksig = (b64url_decode(x) for x in sd.kb_jwt.split("."))
        segments += [_pack_json(kh), _pack_json(kp, {sd_hash(sd.presented): bytes([_SD_HASH])}), ksig]
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
        structured = _restore(body, refs=True) == compact
    except (ValueError, TransportError, SdJwtMalformed):
        structured = False
    if not structured:
        body = bytes([_RAW]) + compact.encode("ascii")
    return PREFIX + b43_encode(_deflate(body))


def _restore(body: bytes, *, refs: bool) -> str:
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
    if r.pos != len(body):
        raise TransportError("container has trailing data")
    # Disclosures first: the issuer payload may refer to their digests, and the KB-JWT to the presented SD-JWT.
    disclosures = [b64url_encode(_unpack_json(seg)) for seg in segs[3 : 3 + n]]
    digests = [sha256_b64url(d.encode("ascii")) for d in disclosures] if refs else None
    header, payload = (b64url_encode(_unpack_json(seg, digests)) for seg in segs[:2])
    presented = "~".join([f"{header}.{payload}.{b64url_encode(segs[2])}", *disclosures]) + "~"
    if not flags & _HAS_KB:
        return presented
    kh, kp, ksig = segs[3 + n :]
    hashed = sd_hash(presented) if refs else None
    kb = [b64url_encode(_unpack_json(seg, digests, hashed)) for seg in (kh, kp)]
    return presented + ".".join([*kb, b64url_encode(ksig)])


def decode(payload: str) -> str:
    """The exact compact SD-JWT a QR payload (``XI2:``, or the older ``XI1:``) carries. Size limits apply first."""
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise TransportTooLarge("payload is longer than the size limit")
    if payload.startswith(PREFIX):
        return _restore(_inflate(b43_decode(payload[len(PREFIX) :])), refs=True)
    if payload.startswith(PREFIX_V1):
        return _restore(_inflate(b45_decode(payload[len(PREFIX_V1) :])), refs=False)
    raise TransportError("payload lacks the XI2: prefix")


def is_transport(text: str) -> bool:
    return text.startswith((PREFIX, PREFIX_V1))
