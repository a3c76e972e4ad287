"""Verification of a citizen digital ID (SD-JWT VC, RFC 9901) as named checks composed into a report.

Checks run in order over one context; each later check applies only when what it needs was established. Check
codes are stable (``docs/identity.md`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from identity.presentation import sd_hash
from identity.sdjwt import (
    KB_JWT_TYP,
    RESERVED_NAMES,
    SD_ALG,
    Disclosure,
    Jws,
    SdJwt,
    parse_disclosure,
    parse_jws,
    split_compact,
)
from identity.service import issuer_agency_id
from identity.status_list import StatusListToken, parse_status_list_jwt
from identity.transport import decode as transport_decode
from identity.transport import is_transport
from keys.errors import XacthucError
from keys.jwk import jwk_alg
from keys.jws import ALLOWED_ALGS, verify_signature
from keys.protocols import KeyResolver, TrustedKey
from verifier.report import Check, CheckResult, Report, Verdict, invalid, run_checks, skipped, valid

KIND = "citizen_id"
SD_JWT_TYPS = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
CLOCK_SKEW = timedelta(seconds=60)
_SKEW_S = CLOCK_SKEW.total_seconds()
# Claims about the token rather than the citizen: never reported as disclosed claims.
_TOKEN_CLAIMS = frozenset({"iss", "iat", "exp", "nbf", "cnf", "status", "vct", "vct#integrity", "_sd_alg", "jti"})


@dataclass(slots=True)
class CredentialContext:
    text: str
    resolver: KeyResolver
    status_fetcher: Callable[[str], str]
    now: datetime
    audience: str | None
    nonce: str | None
    freshness: timedelta
    require_key_binding: bool
    sd: SdJwt | None = None
    jws: Jws | None = None
    key: TrustedKey | None = None
    signature_ok: bool = False
    disclosures_ok: bool = False
    # What the key-binding check established: the holder signed for this ``aud``; or there was no KB-JWT and none
    # was required. Both stay unset when key binding failed.
    kb_audience: str | None = None
    kb_absent: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    now_ts: float = field(init=False)

    def __post_init__(self) -> None:
        self.now_ts = self.now.timestamp()


class FormatCheck:
    name = "format"

    def applies(self, ctx: CredentialContext) -> bool:
        return True

    def verify(self, ctx: CredentialContext) -> CheckResult:
        try:
            text = ctx.text.strip()
            sd = split_compact(transport_decode(text) if is_transport(text) else text)
            jws = parse_jws(sd.issuer_jwt)
        except XacthucError as exc:
            return invalid(self.name, exc.code, exc.message)
        h, p = jws.header, jws.payload
        if h.get("typ") not in SD_JWT_TYPS:
            return invalid(self.name, "TYP_INVALID", "the header typ is not dc+sd-jwt")
        if not isinstance(p.get("iss"), str) or not isinstance(h.get("kid"), str):
            return invalid(self.name, "CLAIMS_MISSING", "iss or kid is missing")
        if not isinstance(p.get("iat"), int) or not isinstance(p.get("exp"), int):
            return invalid(self.name, "CLAIMS_MISSING", "iat or exp is missing or not an integer")
        if p.get("_sd_alg", SD_ALG) != SD_ALG:
            return invalid(self.name, "SD_ALG_UNSUPPORTED", "only sha-256 disclosure digests are supported")
        if "crit" in h:
            return invalid(self.name, "CRIT_UNSUPPORTED", "critical header parameters are not supported")
        ctx.sd, ctx.jws = sd, jws
        return valid(self.name, "FORMAT_OK", "well-formed SD-JWT", disclosures=len(sd.disclosures))


class IssuerTrustedCheck:
    name = "issuer_trusted"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.jws is not None
        # ``iss`` is the agency's URL ``.../agencies/<id>``, or the bare id of credentials issued before.
        key = ctx.resolver.resolve(issuer_agency_id(ctx.jws.payload["iss"]), ctx.jws.header["kid"])
        if key is None:
            return invalid(
                self.name, "ISSUER_UNKNOWN", "the issuer or its key is not in the trust list", Verdict.UNTRUSTED
            )
        if "identity" not in key.roles:
            return invalid(
                self.name, "ISSUER_NOT_AUTHORISED", "the issuer may not issue digital IDs", Verdict.UNTRUSTED
            )
        ctx.key = key
        return valid(self.name, "ISSUER_TRUSTED", f"issued by {key.issuer_name}")


class KeyValidAtIssuanceCheck:
    name = "key_valid_at_issuance"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.key is not None and ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.key is not None and ctx.jws is not None
        key, iat = ctx.key, ctx.jws.payload["iat"]
        if key.status == "compromised" and (key.compromised_at is None or key.compromised_at.timestamp() <= iat):
            return invalid(self.name, "KEY_COMPROMISED", "the issuer key was compromised before this was issued")
        if iat < key.not_before.timestamp() or (key.not_after is not None and iat > key.not_after.timestamp()):
            return invalid(self.name, "KEY_NOT_VALID_AT_ISSUANCE", "the issuer key was not valid when this was issued")
        if iat > ctx.now_ts + _SKEW_S:
            return invalid(self.name, "ISSUED_IN_FUTURE", "issued in the future")
        return valid(self.name, "KEY_VALID", "the issuer key was valid at issuance")


class SignatureCheck:
    name = "signature"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.key is not None and ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.key is not None and ctx.jws is not None
        alg = ctx.jws.header.get("alg")
        # The key, not the token, decides the algorithm: alg none, HS256 or a mismatched alg never reach a verifier.
        if alg not in ALLOWED_ALGS or alg != ctx.key.alg or jwk_alg(ctx.key.jwk) != alg:
            return invalid(self.name, "ALG_NOT_ALLOWED", "the signature algorithm is not allowed for this key")
        if not verify_signature(alg, ctx.key.jwk, ctx.jws.signing_input, ctx.jws.signature):
            return invalid(self.name, "SIGNATURE_INVALID", "the issuer signature does not verify")
        ctx.signature_ok = True
        return valid(self.name, "SIGNATURE_VALID", "the issuer signature verifies")


class NotExpiredCheck:
    name = "not_expired"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.jws is not None
        p = ctx.jws.payload
        if ctx.now_ts >= p["exp"]:
            return invalid(self.name, "EXPIRED", "the credential has expired", Verdict.EXPIRED)
        nbf = p.get("nbf")
        if isinstance(nbf, int) and ctx.now_ts + _SKEW_S < nbf:
            return invalid(self.name, "NOT_YET_VALID", "the credential is not valid yet")
        return valid(self.name, "NOT_EXPIRED", "the credential has not expired")


# One status list covers thousands of credentials: parse it and check its signature once per token text, not once
# per credential. Both are pure functions of their arguments, so memoising them cannot change a result.
@lru_cache(maxsize=64)
def _parsed_status_list(token: str) -> StatusListToken:
    return parse_status_list_jwt(token)


@lru_cache(maxsize=256)
def _status_list_signed(alg: str, jwk: tuple[tuple[str, Any], ...], token: str) -> bool:
    jws = _parsed_status_list(token).jws
    return verify_signature(alg, dict(jwk), jws.signing_input, jws.signature)


class StatusCheck:
    name = "status"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.signature_ok and ctx.jws is not None and "status" in ctx.jws.payload

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.jws is not None
        ref = ctx.jws.payload["status"].get("status_list") if isinstance(ctx.jws.payload["status"], dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("idx"), int) or not isinstance(ref.get("uri"), str):
            return invalid(self.name, "STATUS_REFERENCE_INVALID", "the status reference is malformed")
        try:
            token = _parsed_status_list(ctx.status_fetcher(ref["uri"]))
        except XacthucError as exc:
            return invalid(self.name, exc.code, exc.message, Verdict.ERROR)
        except Exception:
            return invalid(self.name, "STATUS_UNAVAILABLE", "the status list could not be fetched", Verdict.ERROR)
        iss, kid = issuer_agency_id(ctx.jws.payload["iss"]), token.jws.header.get("kid")
        key = ctx.resolver.resolve(iss, kid) if isinstance(kid, str) else None
        alg = token.jws.header.get("alg")
        list_iss = token.jws.payload.get("iss", iss)
        if (
            key is None
            or not isinstance(list_iss, str)
            or issuer_agency_id(list_iss) != iss
            or alg != key.alg
            or not _status_list_signed(str(alg), tuple(sorted(key.jwk.items())), token.jws.compact)
        ):
            return invalid(self.name, "STATUS_LIST_SIGNATURE_INVALID", "the status list is not signed by the issuer")
        if token.uri != ref["uri"]:
            return invalid(self.name, "STATUS_LIST_MISMATCH", "the status list is for another URI")
        if token.exp is not None and ctx.now_ts >= token.exp:
            return invalid(self.name, "STATUS_LIST_EXPIRED", "the status list has expired", Verdict.ERROR)
        if not 0 <= ref["idx"] < token.status_list.size:
            return invalid(self.name, "STATUS_REFERENCE_INVALID", "the status index is outside the list")
        if token.status_list.get(ref["idx"]):
            return invalid(self.name, "REVOKED", "the credential has been revoked", Verdict.REVOKED)
        return valid(self.name, "NOT_REVOKED", "the credential is not revoked")


def _unpack(obj: Any, by_digest: dict[str, Disclosure], seen: set[str], used: set[str]) -> Any:
    """Replace digests by disclosed values (RFC 9901 section 7.1), refusing duplicates and reserved names."""
    # Only objects and arrays can hold digests; scalars (most of a payload) are returned without a call.
    if type(obj) is list:
        out_list = []
        for item in obj:
            if type(item) is dict and len(item) == 1 and "..." in item:
                digest = item["..."]
                if not isinstance(digest, str) or digest in seen:
                    raise ValueError("duplicate or malformed array digest")
                seen.add(digest)
                d = by_digest.get(digest)
                if d is not None:
                    if d.name is not None:
                        raise ValueError("an object disclosure is referenced from an array")
                    used.add(digest)
                    v = d.value
                    out_list.append(_unpack(v, by_digest, seen, used) if type(v) in _CONTAINERS else v)
            else:
                out_list.append(_unpack(item, by_digest, seen, used) if type(item) in _CONTAINERS else item)
        return out_list
    if type(obj) is not dict:
        return obj
    digests = obj.get("_sd", _NO_DIGESTS)
    if not isinstance(digests, list):
        raise ValueError("_sd is not an array")
    out = {
        k: _unpack(v, by_digest, seen, used) if type(v) in _CONTAINERS else v
        for k, v in obj.items()
        if k not in _NOT_CLAIMS
    }
    for digest in digests:
        if not isinstance(digest, str) or digest in seen:
            raise ValueError("duplicate or malformed digest")
        seen.add(digest)
        d = by_digest.get(digest)
        if d is None:
            continue
        if d.name is None or d.name in out or d.name in RESERVED_NAMES:
            raise ValueError(f"disclosure for {d.name!r} is not allowed here")
        used.add(digest)
        v = d.value
        out[d.name] = _unpack(v, by_digest, seen, used) if type(v) in _CONTAINERS else v
    return out


_CONTAINERS = (dict, list)
_NO_DIGESTS: list[str] = []  # the default for an object without _sd; only ever read
_NOT_CLAIMS = frozenset({"_sd", "_sd_alg"})


class DisclosuresCheck:
    name = "disclosures"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.sd is not None and ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.sd is not None and ctx.jws is not None
        by_digest: dict[str, Disclosure] = {}
        try:
            for text in ctx.sd.disclosures:
                d = parse_disclosure(text)
                if by_digest.setdefault(d.digest, d) is not d:
                    return invalid(self.name, "DISCLOSURE_DUPLICATE", "a disclosure appears twice")
        except XacthucError as exc:
            return invalid(self.name, exc.code, exc.message)
        used: set[str] = set()
        try:
            unpacked = _unpack(ctx.jws.payload, by_digest, set(), used)
        except ValueError as exc:
            return invalid(self.name, "DIGEST_INVALID", str(exc))
        if len(used) != len(by_digest):  # used only ever holds keys of by_digest
            return invalid(self.name, "DISCLOSURE_UNREFERENCED", "a disclosure matches no digest in the credential")
        ctx.disclosures_ok = True
        ctx.claims = {k: v for k, v in unpacked.items() if k not in _TOKEN_CLAIMS}
        return valid(
            self.name, "DISCLOSURES_VALID", "every disclosure matches one digest", disclosed=sorted(ctx.claims)
        )


class KeyBindingCheck:
    name = "key_binding"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.sd is not None and ctx.jws is not None

    def verify(self, ctx: CredentialContext) -> CheckResult:
        assert ctx.sd is not None and ctx.jws is not None
        cnf = ctx.jws.payload.get("cnf")
        if ctx.sd.kb_jwt is None:
            if cnf is None and not ctx.require_key_binding:
                ctx.kb_absent = True
                return valid(self.name, "KEY_BINDING_NOT_REQUIRED", "no holder binding was requested")
            return invalid(self.name, "KEY_BINDING_MISSING", "the presentation has no key-binding JWT")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(jwk, dict):
            return invalid(self.name, "HOLDER_KEY_MISSING", "the credential binds no holder key")
        try:
            kb = parse_jws(ctx.sd.kb_jwt)
        except XacthucError as exc:
            return invalid(self.name, exc.code, exc.message)
        if kb.header.get("typ") != KB_JWT_TYP:
            return invalid(self.name, "KB_TYP_INVALID", "the key-binding JWT typ is not kb+jwt")
        alg = kb.header.get("alg")
        if alg not in ALLOWED_ALGS or not verify_signature(str(alg), jwk, kb.signing_input, kb.signature):
            return invalid(self.name, "KB_SIGNATURE_INVALID", "the key-binding JWT is not signed by the holder key")
        p = kb.payload
        if p.get("sd_hash") != sd_hash(ctx.sd.presented):
            return invalid(self.name, "KB_SD_HASH_MISMATCH", "the key-binding JWT is for another presentation")
        iat = p.get("iat")
        if not isinstance(iat, int) or not (ctx.now_ts - ctx.freshness.total_seconds() <= iat <= ctx.now_ts + _SKEW_S):
            return invalid(self.name, "KB_NOT_FRESH", "the key-binding JWT is outside the freshness window")
        if not isinstance(p.get("aud"), str) or (ctx.audience is not None and p["aud"] != ctx.audience):
            return invalid(self.name, "KB_AUDIENCE_MISMATCH", "the presentation is for another audience")
        if ctx.nonce is not None and p.get("nonce") != ctx.nonce:
            return invalid(self.name, "KB_NONCE_MISMATCH", "the presentation is for another nonce")
        ctx.kb_audience = p["aud"]
        return valid(self.name, "KEY_BINDING_VALID", "presented by the holder", aud=p["aud"])


REPLAY_WARNING = "replay"


class AudienceCheck:
    """Says whether the presentation was checked to be meant for this verifier.

    Key binding proves the holder presented it, within the freshness window, to the audience it names; only the
    verifier's own ``audience`` makes that audience matter. Without one, whoever received the presentation (a bank,
    a shop) can show it anywhere else until it goes stale: that is reported as a skipped check with a warning,
    never silently.
    """

    name = "audience"

    def applies(self, ctx: CredentialContext) -> bool:
        return ctx.kb_audience is not None or ctx.kb_absent

    def verify(self, ctx: CredentialContext) -> CheckResult:
        aud = ctx.kb_audience
        if aud is None:
            return skipped(
                self.name,
                "AUDIENCE_NOT_BOUND",
                "the presentation names no audience (no key-binding JWT): anyone holding it can replay it anywhere",
                warning=REPLAY_WARNING,
            )
        if ctx.audience is None:
            shown = aud if len(aud) <= 100 else aud[:100] + "…"
            return skipped(
                self.name,
                "AUDIENCE_NOT_CHECKED",
                f"no audience was given to check: this presentation was made for {shown!r}, and whoever received it"
                " can replay it here or anywhere else until it goes stale; verify with your own audience (and a nonce)",
                warning=REPLAY_WARNING,
                aud=aud,
            )
        # key_binding already refused any other audience (KB_AUDIENCE_MISMATCH).
        return valid(self.name, "AUDIENCE_MATCHED", "the presentation was made for this verifier", aud=aud)


CHECKS: tuple[Check[CredentialContext], ...] = (
    FormatCheck(),
    IssuerTrustedCheck(),
    KeyValidAtIssuanceCheck(),
    SignatureCheck(),
    NotExpiredCheck(),
    StatusCheck(),
    DisclosuresCheck(),
    KeyBindingCheck(),
    AudienceCheck(),
)


def verify_credential(
    compact_or_transport: str,
    resolver: KeyResolver,
    status_fetcher: Callable[[str], str],
    now: datetime,
    audience: str | None = None,
    nonce: str | None = None,
    freshness: timedelta = timedelta(minutes=5),
    *,
    require_key_binding: bool = True,
) -> Report:
    """Verify a citizen ID presentation (compact SD-JWT+KB, or our ``XI2:`` or older ``XI1:`` QR payload) into a report.

    ``status_fetcher`` maps a status list URI to its token; wrap it in ``identity.status_list.StatusListCache`` to
    cache. ``claims`` holds exactly the disclosed claims, and only when the signature and disclosures verified.
    """
    ctx = CredentialContext(
        compact_or_transport, resolver, status_fetcher, now, audience, nonce, freshness, require_key_binding
    )
    checks = run_checks(CHECKS, ctx)
    issuer = {"id": ctx.key.issuer_id, "name": ctx.key.issuer_name} if ctx.key is not None else None
    claims = ctx.claims if ctx.signature_ok and ctx.disclosures_ok else {}
    return Report(kind=KIND, checks=checks, issuer=issuer, claims=claims)
