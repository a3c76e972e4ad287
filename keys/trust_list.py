"""The signed trust list: which agencies exist, what they may sign, and their keys over time.

The city root key (ES256) signs a compact JWS (header ``typ`` = ``xacthuc-trust-list+jwt``) whose payload is::

    {"version": 7, "issued_at": 1767225600, "expires_at": 1767312000,
     "agencies": [{"id": "ubnd-hcm", "name_vi": "...", "name_en": "...", "roles": ["documents"],
                   "eth_address": "0x...",
                   "keys": [{"jwk": {...public JWK with kid and alg...}, "not_before": 1767225600,
                             "not_after": null, "status": "active", "compromised_at": null}]}]}

Times are NumericDate (integer seconds, UTC). Verifiers pin the root public key out of band and call
``verify_trust_list``; the result resolves ``(issuer, kid)`` to a ``TrustedKey`` with no network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keys.errors import (
    InvalidInput,
    KeyRoleNotAllowed,
    TrustListError,
    TrustListExpired,
    TrustListInvalid,
    TrustListRollback,
    UnknownKey,
    XacthucError,
)
from keys.jwk import checked_public_jwk
from keys.jws import VerifiedJWS, decode_unverified, sign_jws, verify_jws
from keys.keyring import AgencyProfile, KeyRecord
from keys.protocols import Signer, TrustedKey
from keys.validity import COMPROMISED, STATUSES, check_valid_at, epoch, from_epoch, utc

log = logging.getLogger(__name__)

TYP = "xacthuc-trust-list+jwt"
ROLES = ("documents", "identity")
DEFAULT_TTL = timedelta(days=1)
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: How often a verifier may fetch the trust list again for unknown keys of one issuer (unlisted issuers share one).
REFRESH_INTERVAL = timedelta(seconds=10)
_CLAIMS_AGENCY = ("iss", "agency", "agency_id", "issuer", "issuer_id")


@dataclass(frozen=True)
class TrustedAgency:
    id: str
    name_vi: str
    name_en: str
    roles: frozenset[str]
    eth_address: str | None
    keys: tuple[TrustedKey, ...]


@dataclass(frozen=True)
class TrustList:
    """A verified trust list. Implements ``KeyResolver``."""

    version: int
    issued_at: datetime
    expires_at: datetime
    root_kid: str
    agencies: Mapping[str, TrustedAgency]
    token: str

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        agency = self.agencies.get(issuer_id)
        if agency is None:
            return None
        return next((k for k in agency.keys if k.kid == kid), None)

    def agency(self, issuer_id: str) -> TrustedAgency | None:
        return self.agencies.get(issuer_id)

    def keys_for(self, issuer_id: str) -> tuple[TrustedKey, ...]:
        """Every listed key of the issuer (for receipts that carry only an 8-byte kid prefix)."""
        agency = self.agencies.get(issuer_id)
        return () if agency is None else agency.keys

    def verify(
        self,
        token: str,
        *,
        signed_at: datetime,
        issuer_id: str | None = None,
        anchored_at: datetime | None = None,
        role: str | None = None,
        allowed_algs: Sequence[str] = ("ES256", "EdDSA"),
    ) -> VerifiedJWS:
        """Signature by a listed key of the issuer, that key valid at ``signed_at``, the issuer holding ``role``."""
        verified = verify_jws(token, self, allowed_algs, issuer_id=issuer_id)
        key = verified.trusted_key
        assert key is not None  # a resolver always yields the trusted key
        check_valid_at(key, signed_at, anchored_at)
        if role is not None and role not in key.roles:
            raise KeyRoleNotAllowed(f"{key.issuer_id} is not trusted for {role}")
        return verified


# --- producing ------------------------------------------------------------------------------------------------------


def trust_list_payload(
    agencies: Iterable[tuple[AgencyProfile, Sequence[KeyRecord]]], now: datetime, version: int, ttl: timedelta
) -> dict[str, Any]:
    entries = []
    for profile, keys in sorted(agencies, key=lambda a: a[0].id):
        if profile.disabled:
            continue
        entries.append(
            {
                "id": profile.id,
                "name_vi": profile.name_vi,
                "name_en": profile.name_en,
                "roles": sorted(profile.roles),
                "eth_address": profile.eth_address,
                "keys": [
                    {
                        "jwk": dict(k.jwk),
                        "not_before": epoch(k.not_before),
                        "not_after": None if k.not_after is None else epoch(k.not_after),
                        "status": k.status,
                        "compromised_at": None if k.compromised_at is None else epoch(k.compromised_at),
                    }
                    for k in keys
                ],
            }
        )
    return {"version": version, "issued_at": epoch(now), "expires_at": epoch(now + ttl), "agencies": entries}


def sign_trust_list(
    root: Signer,
    agencies: Iterable[tuple[AgencyProfile, Sequence[KeyRecord]]],
    now: datetime,
    version: int,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """The trust list JWS, signed by the city root key."""
    if root.alg != "ES256":
        raise InvalidInput("the city root key is ES256")
    return sign_jws(root, trust_list_payload(agencies, now, version, ttl), {"typ": TYP})


# --- verifying ------------------------------------------------------------------------------------------------------


def verify_trust_list(token: str, pinned_root_jwk: Mapping[str, Any], now: datetime, min_version: int = 0) -> TrustList:
    """Verify a trust list against the pinned city root key; refuse expired, rolled-back or inconsistent lists."""
    try:
        root = checked_public_jwk(dict(pinned_root_jwk))
    except InvalidInput as exc:
        raise TrustListError(f"the pinned root key is unusable: {exc.message}") from None
    header, _ = decode_unverified(token)
    if header.get("kid") != root["kid"]:
        raise UnknownKey("the trust list is not signed by the pinned root key", kid=str(header.get("kid")))
    claims = verify_jws(token, root, ("ES256",)).claims()
    if header.get("typ") != TYP:
        raise TrustListInvalid("the token is not a trust list")
    try:
        version = _int(claims, "version")
        issued_at, expires_at = from_epoch(claims["issued_at"]), from_epoch(claims["expires_at"])
    except (KeyError, InvalidInput):
        raise TrustListInvalid("the trust list lacks a version, issued_at or expires_at") from None
    now = utc(now)
    if expires_at <= now:
        raise TrustListExpired(f"the trust list expired at {expires_at.isoformat()}")
    if issued_at > now + MAX_CLOCK_SKEW:
        raise TrustListInvalid("the trust list is issued in the future")
    if version < min_version:
        raise TrustListRollback(f"trust list version {version} is older than version {min_version} already seen")
    raw_agencies = claims.get("agencies")
    if not isinstance(raw_agencies, list):
        raise TrustListInvalid("the trust list has no agencies array")
    agencies: dict[str, TrustedAgency] = {}
    seen_kids = {root["kid"]}
    for raw in raw_agencies:
        agency = _parse_agency(raw, seen_kids)
        if agency.id in agencies:
            raise TrustListInvalid(f"agency {agency.id} is listed twice")
        agencies[agency.id] = agency
    return TrustList(version, issued_at, expires_at, root["kid"], agencies, token)


def _int(d: Mapping[str, Any], field: str) -> int:
    v = d[field]
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidInput(f"{field} is not an integer")
    return v


def _str(d: Mapping[str, Any], field: str, *, optional: bool = False) -> str | None:
    v = d.get(field)
    if v is None and optional:
        return None
    if not isinstance(v, str) or not v:
        raise TrustListInvalid(f"agency field {field} is missing or not a string")
    return v


def _parse_agency(raw: Any, seen_kids: set[str]) -> TrustedAgency:
    if not isinstance(raw, dict):
        raise TrustListInvalid("an agency entry is not an object")
    agency_id, name_vi, name_en = (str(_str(raw, f)) for f in ("id", "name_vi", "name_en"))
    eth = _str(raw, "eth_address", optional=True)
    roles = raw.get("roles")
    if not isinstance(roles, list) or not set(roles) <= set(ROLES):
        raise TrustListInvalid(f"agency {agency_id} has unknown roles")
    role_set = frozenset(str(r) for r in roles)
    keys = raw.get("keys")
    if not isinstance(keys, list):
        raise TrustListInvalid(f"agency {agency_id} has no keys array")
    trusted: list[TrustedKey] = []
    for entry in keys:
        key = _parse_key(entry, agency_id, name_vi, role_set, eth)
        if key.kid in seen_kids:
            raise TrustListInvalid(f"key {key.kid} is listed twice")
        seen_kids.add(key.kid)
        trusted.append(key)
    return TrustedAgency(agency_id, name_vi, name_en, role_set, eth, tuple(trusted))


def _parse_key(entry: Any, agency_id: str, name: str, roles: frozenset[str], eth: str | None) -> TrustedKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("jwk"), dict):
        raise TrustListInvalid(f"a key of {agency_id} is not an object with a jwk")
    jwk_in: dict[str, Any] = entry["jwk"]
    for claim in _CLAIMS_AGENCY:
        for where in (jwk_in, entry):
            if claim in where and where[claim] != agency_id:
                raise TrustListInvalid(f"a key listed under {agency_id} claims to belong to {where[claim]!r}")
    if not isinstance(jwk_in.get("kid"), str):
        raise TrustListInvalid(f"a key of {agency_id} has no kid")
    try:
        jwk = checked_public_jwk(jwk_in)
        not_before = from_epoch(entry["not_before"])
        not_after = None if entry.get("not_after") is None else from_epoch(entry["not_after"])
        compromised_at = None if entry.get("compromised_at") is None else from_epoch(entry["compromised_at"])
    except KeyError:
        raise TrustListInvalid(f"key {jwk_in['kid']} of {agency_id} has no not_before") from None
    except InvalidInput as exc:
        raise TrustListInvalid(f"key {jwk_in['kid']} of {agency_id}: {exc.message}") from None
    status = entry.get("status")
    if status not in STATUSES or (status == COMPROMISED and compromised_at is None):
        raise TrustListInvalid(f"key {jwk['kid']} of {agency_id} has a bad status")
    return TrustedKey(
        issuer_id=agency_id,
        issuer_name=name,
        kid=jwk["kid"],
        alg=jwk["alg"],
        jwk=jwk,
        roles=roles,
        not_before=not_before,
        not_after=not_after,
        status=str(status),
        compromised_at=compromised_at,
        eth_address=eth,
    )


# --- a trust list that stays current --------------------------------------------------------------------------------


class RefreshingTrustList:
    """A ``KeyResolver`` over the newest trust list ``fetch`` gives, each one verified against the pinned root.

    ``fetch()`` returns a signed trust list: an HTTP GET of ``/v1/trust-list`` for a third party, the server's own
    build for the server. ``current()`` fetches again when the list has expired, is older than ``max_age``, or the
    cheap change signal ``generation()`` has moved (the server passes its keystore's). A verifier that meets a
    ``kid`` (or an issuer) the list does not have calls ``refresh(issuer)``: ``resolve`` does so itself. That fetches
    at most once per ``refresh_interval`` per listed issuer, and once per interval for all unlisted issuers
    together, so made-up ``kid`` values cannot make a verifier fetch more often than that. A fetched list older than
    the one held is refused (``TRUST_LIST_ROLLBACK``) and the held one kept.
    """

    def __init__(
        self,
        fetch: Callable[[], str],
        root_jwk: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        clock: Callable[[], datetime],
        *,
        initial: TrustList | None = None,
        refresh_interval: timedelta = REFRESH_INTERVAL,
        max_age: timedelta | None = None,
        generation: Callable[[], Hashable] | None = None,
    ) -> None:
        self._fetch = fetch
        self._root = root_jwk if callable(root_jwk) else (lambda: root_jwk)
        self._clock = clock
        self.refresh_interval = refresh_interval
        self.max_age = max_age
        self._generation = generation
        self._lock = threading.Lock()
        self._list = initial
        self._loaded_at = clock() if initial is not None else None
        self._mark: Hashable = None if initial is None or generation is None else generation()
        self._refreshed: dict[str, datetime] = {}
        self.fetches = 0  # lists fetched since construction (a counter for tests and metrics)

    def current(self) -> TrustList:
        """The list to verify with now, fetched again first if it is stale (see the class docstring)."""
        with self._lock:
            now = self._clock()
            if self._list is None or self._stale(now):
                self._load(now)
            assert self._list is not None
            return self._list

    def _stale(self, now: datetime) -> bool:
        assert self._list is not None and self._loaded_at is not None
        if self._list.expires_at <= now:
            return True
        if self.max_age is not None and not timedelta(0) <= now - self._loaded_at < self.max_age:
            return True
        return self._generation is not None and self._generation() != self._mark

    def _load(self, now: datetime) -> bool:
        # The mark is read before the fetch: a change made during the fetch shows up as a new mark next time.
        mark = None if self._generation is None else self._generation()
        token = self._fetch()
        self.fetches += 1
        old = self._list
        fresh = verify_trust_list(token, self._root(), now, 0 if old is None else old.version)
        self._list, self._loaded_at, self._mark = fresh, now, mark
        return old is None or fresh.version != old.version

    def refresh(self, issuer_id: str) -> bool:
        """Fetch again because ``issuer_id`` signed with a key the list lacks. False when this issuer's allowance
        is used up, the fetch failed, or it brought nothing newer."""
        with self._lock:
            now = self._clock()
            listed = self._list is not None and issuer_id in self._list.agencies
            bucket = issuer_id if listed else ""
            last = self._refreshed.get(bucket)
            if last is not None and timedelta(0) <= now - last < self.refresh_interval:
                return False
            self._refreshed[bucket] = now
            try:
                return self._load(now)
            except Exception as exc:  # best effort: an unreachable or refused source leaves the held list
                code = exc.code if isinstance(exc, XacthucError) else type(exc).__name__
                log.warning("fetching the trust list again for an unknown key of %s failed: %s", issuer_id, code)
                return False

    def _held(self) -> TrustList:
        return self._list if self._list is not None else self.current()

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        """The key from the held list; if it is not there, from a refreshed one (rate-limited)."""
        key = self._held().resolve(issuer_id, kid)
        if key is None and self.refresh(issuer_id):
            key = self._held().resolve(issuer_id, kid)
        return key

    def keys_for(self, issuer_id: str) -> tuple[TrustedKey, ...]:
        """Every key of the issuer in the held list (a caller that finds none it wants calls ``refresh``)."""
        return self._held().keys_for(issuer_id)

    def agency(self, issuer_id: str) -> TrustedAgency | None:
        return self._held().agency(issuer_id)
