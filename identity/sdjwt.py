"""SD-JWT (RFC 9901) on the issuer side, and parsing of the compact form.

A disclosure is ``base64url(JSON [salt, name, value])``; its digest is SHA-256 over that base64url *string*, so a
disclosure is kept as the exact text it arrived in and never re-encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from identity._disclosure_json import disclosure_json
from identity.errors import DisclosureInvalid, SdJwtMalformed
from keys.encoding import b64url_decode, b64url_encode, json_loads, sha256_b64url
from keys.json_depth import check_json_depth
from keys.jws import sign_jws as _sign_jws
from keys.limits import SD_JWT_CHARS
from keys.protocols import Signer

SD_ALG = "sha-256"
SD_JWT_TYP = "dc+sd-jwt"
KB_JWT_TYP = "kb+jwt"
SALT_BYTES = 16  # 128-bit salts, as RFC 9901 section 9.3 recommends
# Names that a disclosure may never carry: the SD-JWT machinery and the claims that must stay visible.
RESERVED_NAMES = frozenset({"_sd", "...", "_sd_alg", "iss", "iat", "exp", "nbf", "cnf", "status", "vct"})
MAX_COMPACT_LENGTH = SD_JWT_CHARS

Rng = Callable[[int], bytes]


class Disclosure(NamedTuple):
    """One disclosure: ``encoded`` is the exact base64url text; ``name`` is ``None`` for an array element.

    ``digest`` (of ``encoded``) is computed once, by the two functions that make these: the issuer, the verifier's
    duplicate check and its digest lookup all need it. A named tuple because a verifier builds several per
    presentation and it is the cheapest immutable record.
    """

    encoded: str
    salt: str
    name: str | None
    value: Any
    digest: str


def make_disclosure(salt: str, name: str | None, value: Any) -> Disclosure:
    if name is not None and name in ("_sd", "..."):
        raise DisclosureInvalid("reserved claim name", claim=name)
    encoded = b64url_encode(disclosure_json(salt, name, value).encode("utf-8"))
    return Disclosure(encoded, salt, name, value, sha256_b64url(encoded.encode("ascii")))


def _json(raw: bytes) -> Any:
    """Untrusted JSON: its depth checked before the parser recurses (a deep text is a RecursionError in ``json``);
    ``JsonTooDeep`` is a ``ValueError`` like every other refusal."""
    check_json_depth(raw)
    return json_loads(raw)


def parse_disclosure(encoded: str) -> Disclosure:
    """Decode a disclosure, keeping its text. Raises :class:`DisclosureInvalid`."""
    try:
        array = _json(b64url_decode(encoded))  # b64url_decode refuses non-ASCII text
    except ValueError as exc:
        raise DisclosureInvalid("a disclosure is not base64url JSON") from exc
    if not isinstance(array, list) or len(array) not in (2, 3) or not isinstance(array[0], str):
        raise DisclosureInvalid("a disclosure is not a [salt, (name,) value] array")
    digest = sha256_b64url(encoded.encode("ascii"))
    if len(array) == 2:
        return Disclosure(encoded, array[0], None, array[1], digest)
    if not isinstance(array[1], str):
        raise DisclosureInvalid("a disclosure's claim name is not a string")
    if array[1] in ("_sd", "..."):
        raise DisclosureInvalid("a disclosure uses a reserved claim name", claim=array[1])
    return Disclosure(encoded, array[0], array[1], array[2], digest)


def new_salt(rng: Rng) -> str:
    return b64url_encode(rng(SALT_BYTES))


class Jws(NamedTuple):
    """A compact JWS kept as text, with its decoded header and payload (a named tuple: cheap to build per token)."""

    compact: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signature: bytes

    @property
    def signing_input(self) -> bytes:
        return self.compact[: self.compact.rindex(".")].encode("ascii")


def parse_jws(compact: str) -> Jws:
    """Split and decode a compact JWS (no verification). Raises :class:`SdJwtMalformed`."""
    parts = compact.split(".")
    if len(parts) != 3 or not compact.isascii():
        raise SdJwtMalformed("not a compact JWS")
    try:
        header = _json(b64url_decode(parts[0]))
        payload = _json(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise SdJwtMalformed("a JWS part is not base64url JSON") from exc
    if type(header) is not dict or type(payload) is not dict:
        raise SdJwtMalformed("JWS header and payload must be JSON objects")
    return Jws(compact, header, payload, signature)


def sign_jws(signer: Signer, header: Mapping[str, Any], payload: Mapping[str, Any], *, with_kid: bool = True) -> str:
    """Sign a compact JWS (``keys.jws.sign_jws``); ``alg`` and ``kid`` come from the signer, never from ``header``.

    The header is ``alg``, the caller's members, then ``kid``: the bytes the transport dictionary and vectors expect.
    """
    extra = {k: v for k, v in header.items() if k not in ("alg", "kid")}
    return _sign_jws(signer, payload, extra, kid=with_kid, kid_last=True)


@dataclass(frozen=True)
class SdJwt:
    """A compact SD-JWT or SD-JWT+KB, split into its exact parts."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    @property
    def presented(self) -> str:
        """The part the KB-JWT's ``sd_hash`` covers: issuer JWT and disclosures, each followed by ``~``."""
        return "~".join((self.issuer_jwt, *self.disclosures)) + "~"

    def compact(self) -> str:
        return self.presented + (self.kb_jwt or "")


def split_compact(text: str) -> SdJwt:
    """Split ``<jwt>~<d1>~...~<dN>~[<kb-jwt>]``. Raises :class:`SdJwtMalformed`."""
    if len(text) > MAX_COMPACT_LENGTH or not text.isascii():
        raise SdJwtMalformed("SD-JWT too long or not ASCII")
    parts = text.split("~")
    if len(parts) < 2 or parts[0].count(".") != 2:
        raise SdJwtMalformed("not a compact SD-JWT")
    disclosures = tuple(parts[1:-1])
    if "" in disclosures:
        raise SdJwtMalformed("empty disclosure")
    kb = parts[-1] or None
    if kb is not None and kb.count(".") != 2:
        raise SdJwtMalformed("the key-binding JWT is not a compact JWS")
    return SdJwt(parts[0], disclosures, kb)


@dataclass
class IssuedSdJwt:
    compact: str
    disclosures: list[Disclosure] = field(default_factory=list)


def issue_sd_jwt(
    signer: Signer,
    visible: Mapping[str, Any],
    selective: Mapping[str, Any],
    rng: Rng,
    *,
    decoys: int = 0,
    typ: str = SD_JWT_TYP,
) -> IssuedSdJwt:
    """Issue an SD-JWT whose ``selective`` claims are each one disclosure; ``visible`` claims stay in the payload.

    Digests are sorted, which hides the claims' order since digests are uniformly random.
    """
    clash = set(selective) & (set(visible) | RESERVED_NAMES)
    if clash:
        raise DisclosureInvalid("claims cannot be both visible and selectively disclosable", claim=sorted(clash)[0])
    pool = rng(SALT_BYTES * (len(selective) + decoys))  # one call for all salts
    salts = [b64url_encode(pool[i : i + SALT_BYTES]) for i in range(0, len(pool), SALT_BYTES)]
    pairs = zip(salts, selective.items(), strict=False)
    disclosures = [make_disclosure(salt, name, value) for salt, (name, value) in pairs]
    digests = [d.digest for d in disclosures]
    digests += [sha256_b64url(salt.encode("ascii")) for salt in salts[len(selective) :]]
    payload = {**visible, "_sd": sorted(digests), "_sd_alg": SD_ALG}
    jwt = sign_jws(signer, {"typ": typ}, payload)
    return IssuedSdJwt("~".join([jwt, *(d.encoded for d in disclosures)]) + "~", disclosures)
