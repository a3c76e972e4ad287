"""Key rings: an agency's signature keys over time, persisted as a MACed record in the keystore.

Signing uses the newest active key valid now; verification accepts any key that was valid at the signing time
(``keys.validity``). Rotation makes a new key active at once and retires the old one ``ROTATION_OVERLAP`` later, so
whatever the old key signed keeps verifying, including what a process holding the ring from just before the rotation
signs in that overlap (it has not seen the new key yet). Retiring or compromising a key takes effect at once.

Published before it signs: the ring record is what the trust list is built from, and ``signer`` only picks keys
of a ring that was loaded from, or has just been saved to, that record (a failed save puts the object back). So a
key is in the published trust list from the moment it can sign; the record write also moves the keystore's
``generation``, which tells every cached trust list (the server's, bundles, offline bundles) to rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from keys.errors import InvalidInput, KeyNotFound, KeystoreCorrupt, NoActiveKey, UnknownKey
from keys.generate import DEFAULT_ALG, LocalSigner, generate_signing_key
from keys.jws import sign_jws
from keys.keystore import Keystore
from keys.protocols import Signer, TrustedKey
from keys.validity import (
    ACTIVE,
    COMPROMISED,
    RETIRED,
    STATUSES,
    check_valid_at,
    epoch,
    from_epoch,
    in_window,
    to_seconds,
    utc,
)

ROTATION_OVERLAP = timedelta(seconds=60)
"""How long a rotated-out key stays valid for new signatures: longer than any process keeps a ring without seeing
the keystore's new generation, so nothing signed in the race of a rotation is left unverifiable."""


@dataclass(frozen=True)
class KeyRecord:
    """One key of a ring: its public JWK and the window and status that say when it may be trusted."""

    kid: str
    alg: str
    jwk: dict[str, Any]
    not_before: datetime
    not_after: datetime | None = None
    status: str = ACTIVE
    compromised_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "jwk": self.jwk,
            "not_before": epoch(self.not_before),
            "not_after": None if self.not_after is None else epoch(self.not_after),
            "status": self.status,
            "compromised_at": None if self.compromised_at is None else epoch(self.compromised_at),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> KeyRecord:
        status = d["status"]
        if status not in STATUSES:
            raise InvalidInput(f"unknown key status {status!r}")
        return cls(
            kid=str(d["kid"]),
            alg=str(d["alg"]),
            jwk=dict(d["jwk"]),
            not_before=from_epoch(d["not_before"]),
            not_after=None if d.get("not_after") is None else from_epoch(d["not_after"]),
            status=status,
            compromised_at=None if d.get("compromised_at") is None else from_epoch(d["compromised_at"]),
        )


@dataclass(frozen=True)
class AgencyProfile:
    """What the trust list says about an agency besides its keys."""

    id: str
    name_vi: str
    name_en: str
    roles: tuple[str, ...]
    eth_address: str | None = None
    disabled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "roles": list(self.roles),
            "eth_address": self.eth_address,
            "disabled": self.disabled,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgencyProfile:
        return cls(
            id=str(d["id"]),
            name_vi=str(d["name_vi"]),
            name_en=str(d["name_en"]),
            roles=tuple(str(r) for r in d["roles"]),
            eth_address=None if d.get("eth_address") is None else str(d["eth_address"]),
            disabled=bool(d.get("disabled", False)),
        )


def _record_name(agency_id: str) -> str:
    return f"ring-{agency_id}"


@dataclass
class KeyRing:
    """The keys of one agency (or of the city root). Mutations persist at once, under the keystore lock."""

    keystore: Keystore
    agency_id: str
    keys: list[KeyRecord] = field(default_factory=list)
    profile: AgencyProfile | None = None
    revision: int = 0
    _current: tuple[list[KeyRecord], KeyRecord] | None = field(default=None, repr=False, compare=False)
    _trusted: tuple[list[KeyRecord], AgencyProfile | None, dict[str, TrustedKey]] | None = field(
        default=None, repr=False, compare=False
    )

    # -- persistence

    @classmethod
    def exists(cls, keystore: Keystore, agency_id: str) -> bool:
        return keystore.read_record(_record_name(agency_id)) is not None

    @classmethod
    def create(
        cls,
        keystore: Keystore,
        agency_id: str,
        now: datetime,
        *,
        alg: str = DEFAULT_ALG,
        profile: AgencyProfile | None = None,
        signer: LocalSigner | None = None,
    ) -> KeyRing:
        """A new ring with one active key valid from ``now``: a fresh one, or ``signer`` (migration)."""
        with keystore.lock():
            if cls.exists(keystore, agency_id):
                raise InvalidInput(f"agency {agency_id} already has a key ring")
            ring = cls(keystore, agency_id, profile=profile)
            if signer is None:
                ring._add_new_key(now, alg)
            else:
                keystore.save_signer(signer)
                ring._append(signer, to_seconds(now))
            ring._save()
        return ring

    @classmethod
    def load(cls, keystore: Keystore, agency_id: str) -> KeyRing:
        data = keystore.read_record(_record_name(agency_id))
        if data is None:
            raise KeyNotFound(f"agency {agency_id} has no key ring")
        try:
            if data["agency_id"] != agency_id:
                raise KeystoreCorrupt(f"the key ring of {agency_id} names another agency")
            keys = [KeyRecord.from_json(k) for k in data["keys"]]
            profile = None if data.get("profile") is None else AgencyProfile.from_json(data["profile"])
            revision = int(data["revision"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeystoreCorrupt(f"the key ring of {agency_id} is malformed") from exc
        return cls(keystore, agency_id, keys, profile, revision)

    def _save(self) -> None:
        self.revision += 1
        self.keystore.write_record(
            _record_name(self.agency_id),
            {
                "agency_id": self.agency_id,
                "revision": self.revision,
                "profile": None if self.profile is None else self.profile.to_json(),
                "keys": [k.to_json() for k in self.keys],
            },
        )

    @contextmanager
    def _mutating(self) -> Iterator[None]:
        """Reload under the lock, let the caller change the ring, save: no lost update between processes.

        If the change or its save fails, the ring goes back to what is stored: an object never holds a key the
        record (the trust list's source) does not, so it never signs with an unpublished key.
        """
        with self.keystore.lock():
            fresh = KeyRing.load(self.keystore, self.agency_id)
            self.keys, self.profile, self.revision = fresh.keys, fresh.profile, fresh.revision
            try:
                yield
                self._save()
            except BaseException:
                self.keys, self.profile, self.revision = fresh.keys, fresh.profile, fresh.revision
                raise

    # -- signing

    def signer(self, now: datetime) -> Signer:
        """The newest active key valid at ``now``."""
        cached = self._current
        if cached is not None and cached[0] is self.keys and in_window(cached[1], now):
            return self.keystore.load_signer(cached[1].kid)
        candidates = [k for k in self.keys if k.status == ACTIVE and in_window(k, now)]
        if not candidates:
            raise NoActiveKey(f"agency {self.agency_id} has no active key valid now")
        newest = max(candidates, key=lambda k: k.not_before)
        if newest.not_after is None:  # still newest until the ring changes (self.keys is replaced on change)
            self._current = (self.keys, newest)
        return self.keystore.load_signer(newest.kid)

    def sign_jws(
        self, payload: bytes | Mapping[str, Any], now: datetime, header_extra: Mapping[str, Any] | None = None
    ) -> str:
        """A compact JWS signed with ``signer(now)``."""
        return sign_jws(self.signer(now), payload, header_extra)

    # -- verification

    def get(self, kid: str) -> KeyRecord | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def verify_key(self, kid: str, signed_at: datetime, anchored_at: datetime | None = None) -> KeyRecord:
        """The key ``kid`` if it may be trusted for a signature at ``signed_at`` (see ``keys.validity``)."""
        key = self.get(kid)
        if key is None:
            raise UnknownKey(f"agency {self.agency_id} has no key {kid}", issuer_id=self.agency_id, kid=kid)
        check_valid_at(key, signed_at, anchored_at)
        return key

    def trusted_key(self, key: KeyRecord) -> TrustedKey:
        p = self.profile
        return TrustedKey(
            issuer_id=self.agency_id,
            issuer_name=p.name_vi if p else self.agency_id,
            kid=key.kid,
            alg=key.alg,
            jwk=dict(key.jwk),
            roles=frozenset(p.roles if p else ()),
            not_before=key.not_before,
            not_after=key.not_after,
            status=key.status,
            compromised_at=key.compromised_at,
            eth_address=p.eth_address if p else None,
        )

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        """``KeyResolver`` over this one ring: only this agency's keys."""
        if issuer_id != self.agency_id:
            return None
        cache = self._trusted
        if cache is None or cache[0] is not self.keys or cache[1] is not self.profile:
            cache = self._trusted = (self.keys, self.profile, {k.kid: self.trusted_key(k) for k in self.keys})
        return cache[2].get(kid)

    def public_jwks(self, *, include_compromised: bool = False) -> list[dict[str, Any]]:
        return [dict(k.jwk) for k in self.keys if include_compromised or k.status != COMPROMISED]

    # -- lifecycle

    def _add_new_key(self, now: datetime, alg: str) -> KeyRecord:
        signer = generate_signing_key(alg)
        self.keystore.save_signer(signer)
        return self._append(signer, to_seconds(now))

    def _append(self, signer: LocalSigner, not_before: datetime, not_after: datetime | None = None) -> KeyRecord:
        if self.get(signer.kid) is not None:
            raise InvalidInput(f"key {signer.kid} is already in the ring")
        record = KeyRecord(signer.kid, signer.alg, signer.public_jwk(), not_before, not_after, ACTIVE)
        self.keys = [*self.keys, record]
        return record

    def rotate(self, now: datetime, *, alg: str | None = None) -> KeyRecord:
        """A new active key from ``now``, which signs from then on; every other active key retires at
        ``now + ROTATION_OVERLAP`` and keeps verifying what it signed before."""
        with self._mutating():
            t = to_seconds(now)
            end = t + ROTATION_OVERLAP
            self.keys = [
                replace(k, status=RETIRED, not_after=end if k.not_after is None else min(k.not_after, end))
                if k.status == ACTIVE
                else k
                for k in self.keys
            ]
            current_alg = alg or (self.keys[-1].alg if self.keys else DEFAULT_ALG)
            return self._add_new_key(now, current_alg)

    def retire(self, kid: str, now: datetime) -> KeyRecord:
        """Stop signing with ``kid`` from ``now``; its earlier signatures keep verifying."""
        with self._mutating():
            key = self._require(kid)
            if key.status == COMPROMISED:
                raise InvalidInput(f"key {kid} is compromised; it stays so")
            t = to_seconds(now)
            new = replace(key, status=RETIRED, not_after=t if key.not_after is None else min(key.not_after, t))
            self._replace(new)
            return new

    def compromise(self, kid: str, at: datetime, now: datetime) -> KeyRecord:
        """Mark ``kid`` compromised since ``at``: its signatures need an anchor older than ``at`` from now on."""
        if utc(at) > utc(now):
            raise InvalidInput("a compromise cannot be declared for the future")
        with self._mutating():
            key = self._require(kid)
            at_s = to_seconds(at)
            if key.compromised_at is not None:
                at_s = min(at_s, key.compromised_at)
            t = to_seconds(now)
            not_after = t if key.not_after is None else min(key.not_after, t)
            new = replace(key, status=COMPROMISED, compromised_at=at_s, not_after=not_after)
            self._replace(new)
            return new

    def import_key(self, signer: LocalSigner, *, not_before: datetime, not_after: datetime | None, status: str) -> None:
        """Add an existing key (the plain-file migration) with the given window."""
        with self._mutating():
            self.keystore.save_signer(signer)
            record = self._append(signer, to_seconds(not_before), None if not_after is None else to_seconds(not_after))
            self._replace(replace(record, status=status))

    def set_profile(self, profile: AgencyProfile) -> None:
        with self._mutating():
            self.profile = profile

    def _require(self, kid: str) -> KeyRecord:
        key = self.get(kid)
        if key is None:
            raise KeyNotFound(f"agency {self.agency_id} has no key {kid}", kid=kid)
        return key

    def _replace(self, new: KeyRecord) -> None:
        self.keys = [new if k.kid == new.kid else k for k in self.keys]
