"""The city: its root key, the agencies' key rings and Ethereum accounts, and the first-run bootstrap."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from keys import agencies as ag
from keys.encoding import b64url_decode, b64url_encode
from keys.errors import AgencyExists, CityNotFound, InvalidInput, KeyNotFound, KeystoreExists
from keys.generate import generate_eth_account, generate_signing_key
from keys.keyring import AgencyProfile, KeyRecord, KeyRing
from keys.keystore import KdfParams, Keystore, Passphrase, atomic_write, ensure_private_dir
from keys.migrate import migrate_plain_keys
from keys.protocols import Signer
from keys.staff import demo_staff
from keys.trust_list import DEFAULT_TTL, sign_trust_list
from keys.validity import ACTIVE
from keys.x509 import VerifierRequestKey, self_signed_certificate, x509_hash_client_id

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = logging.getLogger(__name__)

CITY_ID = "tphcm"  # the city's own agency row: holds the admin API key, never signs documents
ROOT_RING = "city-root"
ADMIN_ACCOUNT = "city-admin"
RELAYER_ACCOUNT = "city-relayer"  # sends (and pays for) every agency's anchors and revocations
CREDENTIALS_FILE = "dev-credentials.json"
VERIFIER_RECORD = "verifier-request-key"  # keystore record: the OpenID4VP request-signing key's kid and certificate


@dataclass(frozen=True)
class DemoAgency:
    id: str
    name_vi: str
    name_en: str
    roles: tuple[str, ...]
    api_roles: tuple[str, ...]


DEMO_AGENCIES = (
    DemoAgency(
        "ubnd-hcm",
        "Ủy ban nhân dân Thành phố Hồ Chí Minh",
        "People's Committee of Ho Chi Minh City",
        ("documents",),
        ("documents:issue", "documents:revoke"),
    ),
    DemoAgency(
        "ca-hcm",
        "Công an Thành phố Hồ Chí Minh",
        "Ho Chi Minh City Police",
        ("identity",),
        ("identity:issue", "identity:revoke"),
    ),
)


@dataclass(frozen=True)
class ProvisionedAgency:
    agency: ag.Agency
    api_key: ag.IssuedApiKey | None


class City:
    """The unlocked keys of the city: root key, agency key rings, Ethereum accounts. Built by ``create_city`` or
    ``load_city``."""

    def __init__(self, data_dir: Path, keystore: Keystore) -> None:
        self.data_dir = data_dir
        self.keystore = keystore

    def __repr__(self) -> str:
        return f"City(data_dir={str(self.data_dir)!r})"

    # -- keys

    @property
    def root_ring(self) -> KeyRing:
        return KeyRing.load(self.keystore, ROOT_RING)

    @property
    def root_signer(self) -> Signer:
        """The city root key (ES256) that signs the trust list."""
        active = [k for k in self.root_ring.keys if k.status == ACTIVE]
        if not active:
            raise KeyNotFound("the city has no active root key")
        return self.keystore.load_signer(max(active, key=lambda k: k.not_before).kid)

    def root_jwk(self) -> dict[str, Any]:
        """The public key third parties pin (``GET /v1/trust-root``)."""
        return self.root_signer.public_jwk()

    def keyring(self, agency_id: str) -> KeyRing:
        """The agency's key ring, read fresh from the keystore (another process may have rotated it)."""
        if agency_id == ROOT_RING:
            raise InvalidInput("the root ring is not an agency's")
        return KeyRing.load(self.keystore, agency_id)

    def agency_ids(self) -> list[str]:
        """Agencies with a key ring in the keystore."""
        names = self.keystore.record_names()
        return [n.removeprefix("ring-") for n in names if n.startswith("ring-") and n != f"ring-{ROOT_RING}"]

    def eth_account(self, agency_id: str) -> LocalAccount:
        """The agency's unlocked Ethereum account (it sends the anchor transactions)."""
        return self.keystore.load_eth_account(agency_id)

    def eth_address(self, agency_id: str) -> str:
        return self.keystore.eth_address(agency_id)

    @property
    def admin_address(self) -> str:
        """The city admin's Ethereum address, read without unlocking its key."""
        return self.keystore.eth_address(ADMIN_ACCOUNT)

    @property
    def admin_account(self) -> LocalAccount:
        """The city admin's Ethereum account (deploys the registry)."""
        return self.keystore.load_eth_account(ADMIN_ACCOUNT)

    @property
    def relayer_account(self) -> LocalAccount:
        """The city's relayer account: it sends every agency's anchors and revocations (each authorised by the
        agency's EIP-712 signature) and pays their gas, so only this account needs funds. Created with the city;
        a data dir from before it existed gets it here, on first use (under the keystore lock, so two processes
        never make two)."""
        try:
            return self.keystore.load_eth_account(RELAYER_ACCOUNT)
        except KeyNotFound:
            pass
        with self.keystore.lock():
            if RELAYER_ACCOUNT not in self.keystore.eth_names():
                address = self.keystore.save_eth_account(RELAYER_ACCOUNT, bytes(generate_eth_account().key))
                log.info("created the city's relayer account %s (it pays for every agency's anchors)", address)
        return self.keystore.load_eth_account(RELAYER_ACCOUNT)

    def verifier_request_key(self, host: str, now: datetime) -> VerifierRequestKey:
        """The key that signs this service's OpenID4VP request objects (P-256) and its self-signed certificate for
        ``host`` (the public URL's host; its SHA-256 is the verifier's ``x509_hash`` client id). Created on first
        use, under the keystore lock, like the relayer account; a new certificate (same key) when the host changes.
        The record ``verifier-request-key`` (MACed) names the key and holds the certificate."""
        with self.keystore.lock():
            record = self.keystore.read_record(VERIFIER_RECORD)
            signer = None
            if record is not None and isinstance(record.get("kid"), str):
                try:
                    signer = self.keystore.load_signer(record["kid"])
                except KeyNotFound:
                    signer = None
            if signer is None:
                signer = generate_signing_key("ES256")
                self.keystore.save_signer(signer)
                log.info("created the verifier's request-signing key %s", signer.kid)
            der = b64url_decode(record["certificate"]) if record and isinstance(record.get("certificate"), str) else b""
            if not der or record is None or record.get("host") != host or record.get("kid") != signer.kid:
                der = self_signed_certificate(signer, host, now)
                self.keystore.write_record(
                    VERIFIER_RECORD, {"kid": signer.kid, "host": host, "certificate": b64url_encode(der)}
                )
        return VerifierRequestKey(signer, der, x509_hash_client_id(der))

    # -- publication

    def _rings(self) -> list[KeyRing]:
        return [self.keyring(a) for a in self.agency_ids()]

    def trust_list_version(self) -> int:
        """Grows whenever any ring (keys, status, profile) changes: the sum of the rings' revisions."""
        return self.root_ring.revision + sum(r.revision for r in self._rings())

    def build_trust_list(self, now: datetime, version: int | None = None, ttl: timedelta = DEFAULT_TTL) -> str:
        """The trust list JWS signed by the root key; ``version`` defaults to ``trust_list_version()``."""
        entries: list[tuple[AgencyProfile, list[KeyRecord]]] = [
            (r.profile, r.keys) for r in self._rings() if r.profile is not None
        ]
        v = self.trust_list_version() if version is None else version
        return sign_trust_list(self.root_signer, entries, now, v, ttl)

    def jwks(self) -> dict[str, Any]:
        """Every public key (root and agencies), compromised keys left out; validity lives in the trust list."""
        keys = self.root_ring.public_jwks()
        for ring in self._rings():
            if ring.profile is not None and not ring.profile.disabled:
                keys += ring.public_jwks()
        return {"keys": keys}

    # -- administration

    def provision_agency(
        self,
        session: Session,
        *,
        name: str,
        roles: list[str],
        now: datetime,
        name_en: str = "",
        agency_id: str | None = None,
        alg: str = "ES256",
        api_roles: list[str] | None = None,
    ) -> ProvisionedAgency:
        """Create an agency: database row, key ring, Ethereum account and (unless ``api_roles == []``) an API key.

        ``roles`` may mix trust roles and API roles (see ``agencies.expand_roles``).
        """
        trust, api = ag.expand_roles(roles)
        agency = ag.create_agency(session, name=name, name_en=name_en, roles=list(trust), now=now, agency_id=agency_id)
        account = generate_eth_account()
        address = self.keystore.save_eth_account(agency.id, bytes(account.key))
        agency.eth_address = address
        session.add(agency)
        profile = AgencyProfile(agency.id, agency.name, agency.name_en or agency.name, trust, address)
        KeyRing.create(self.keystore, agency.id, now, alg=alg, profile=profile)
        wanted = list(api) if api_roles is None else api_roles
        issued = ag.issue_api_key(session, agency.id, wanted, now) if wanted else None
        log.info("provisioned agency %s with roles %s", agency.id, ",".join(trust))
        return ProvisionedAgency(agency, issued)

    def disable_agency(self, session: Session, agency_id: str, now: datetime) -> ag.Agency:
        """Disable in the database (API keys stop) and drop from the trust list."""
        agency = ag.disable_agency(session, agency_id, now)
        if agency_id in self.agency_ids():
            ring = self.keyring(agency_id)
            if ring.profile is not None:
                p = ring.profile
                ring.set_profile(AgencyProfile(p.id, p.name_vi, p.name_en, p.roles, p.eth_address, disabled=True))
        return agency

    def compromise(self, agency_id: str, kid: str, at: datetime, now: datetime, *, rotate: bool = True) -> KeyRecord:
        """Mark a key compromised since ``at``; with ``rotate``, give the agency a fresh key if it has none left."""
        ring = self.keyring(agency_id)
        record = ring.compromise(kid, at, now)
        if rotate and not any(k.status == ACTIVE for k in ring.keys):
            ring.rotate(now, alg=record.alg)
        return record


# --- creating and opening a city ------------------------------------------------------------------------------------


def city_exists(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a city: its keystore."""
    return Keystore.exists(data_dir / "keys")


def create_city(
    data_dir: Path,
    session: Session,
    passphrase: Passphrase | str,
    now: datetime,
    *,
    kdf: KdfParams | None = None,
    demo: bool = False,
) -> City:
    """A new city in ``data_dir``: keystore, root key, the admin's Ethereum account and the city's own row.

    Only with ``demo`` (development mode): the demo agencies, an admin API key, and their secrets written to
    ``dev-credentials.json``. Without it no agency is created and no secret leaves the keystore.
    """
    if city_exists(data_dir):
        raise KeystoreExists(f"{data_dir} already holds a city")
    ensure_private_dir(data_dir)
    keystore = Keystore.create(data_dir / "keys", passphrase, kdf=kdf)
    city = City(data_dir, keystore)
    KeyRing.create(keystore, ROOT_RING, now)
    keystore.save_eth_account(ADMIN_ACCOUNT, bytes(generate_eth_account().key))
    keystore.save_eth_account(RELAYER_ACCOUNT, bytes(generate_eth_account().key))
    credentials: dict[str, Any] = {"admin_token": None, "agencies": []}
    if demo:
        for d in DEMO_AGENCIES:
            p = city.provision_agency(
                session, name=d.name_vi, name_en=d.name_en, roles=list(d.roles), now=now, agency_id=d.id
            )
            assert p.api_key is not None
            credentials["agencies"].append(_cred(session, p.agency, p.api_key, now))
    log.info("created a new city in %s%s", data_dir, " with the demo agencies" if demo else "")
    return _settle(city, session, now, credentials, demo=demo)


def load_city(
    data_dir: Path, session: Session, passphrase: Passphrase | str, now: datetime, *, demo: bool = False
) -> City:
    """The city in ``data_dir``, unlocked; ``CityNotFound`` (and nothing created) when there is none.

    Database rows missing for keystore agencies are recreated (a new database on an old data dir); only with
    ``demo`` do the recreated demo agencies and the city get API keys, merged into ``dev-credentials.json``.
    """
    if not city_exists(data_dir):
        raise CityNotFound(f"no city in {data_dir}: it has no keystore", data_dir=str(data_dir))
    city = City(data_dir, Keystore.open(data_dir / "keys", passphrase))
    return _settle(city, session, now, {"admin_token": None, "agencies": []}, demo=demo)


def bootstrap_city(
    data_dir: Path,
    session: Session,
    passphrase: Passphrase | str,
    now: datetime,
    *,
    kdf: KdfParams | None = None,
    demo: bool = True,
) -> City:
    """Development mode (``serve --dev``) and tests: ``create_city`` on a fresh data dir, else ``load_city``."""
    if city_exists(data_dir):
        return load_city(data_dir, session, passphrase, now, demo=demo)
    return create_city(data_dir, session, passphrase, now, kdf=kdf, demo=demo)


def _settle(city: City, session: Session, now: datetime, credentials: dict[str, Any], *, demo: bool) -> City:
    """Rows for every keystore agency, legacy plain keys encrypted, and (demo only) the credentials file."""
    credentials = _ensure_rows(city, session, now, credentials, demo=demo)
    migrate_plain_keys(city.keystore, now)
    if demo and (credentials["admin_token"] is not None or credentials["agencies"]):
        _write_credentials(city.data_dir / CREDENTIALS_FILE, credentials)
    return city


def _cred(session: Session, agency: ag.Agency, key: ag.IssuedApiKey, now: datetime) -> dict[str, Any]:
    """A demo agency's line of ``dev-credentials.json``: its API key and its demo staff accounts (created here)."""
    staff = demo_staff(session, agency, now)
    return {"id": agency.id, "name": agency.name, "roles": list(key.roles), "api_key": key.token, "staff": staff}


def _ensure_rows(city: City, session: Session, now: datetime, creds: dict[str, Any], *, demo: bool) -> dict[str, Any]:
    """Database rows for the city and every keystore agency; with ``demo``, new API keys go into ``creds``."""
    if session.get(ag.Agency, CITY_ID) is None:
        ag.create_agency(
            session,
            name="Thành phố Hồ Chí Minh",
            name_en="Ho Chi Minh City",
            roles=[],
            now=now,
            agency_id=CITY_ID,
            eth_address=city.keystore.eth_address(ADMIN_ACCOUNT),
        )
        if demo:
            creds["admin_token"] = ag.issue_api_key(session, CITY_ID, ["admin"], now).token
    demo_roles = {d.id: d.api_roles for d in DEMO_AGENCIES}
    for agency_id in city.agency_ids():
        profile = city.keyring(agency_id).profile
        if profile is None or session.get(ag.Agency, agency_id) is not None:
            continue
        try:
            row = ag.create_agency(
                session,
                name=profile.name_vi,
                name_en=profile.name_en,
                roles=list(profile.roles),
                now=now,
                agency_id=agency_id,
                eth_address=profile.eth_address,
            )
        except AgencyExists:
            continue
        row.disabled = profile.disabled
        if demo and agency_id in demo_roles and not profile.disabled:
            key = ag.issue_api_key(session, agency_id, list(demo_roles[agency_id]), now)
            creds["agencies"].append(_cred(session, row, key, now))
        else:
            log.warning("recreated the database row of agency %s; it has no API key", agency_id)
    session.flush()
    return creds


def _write_credentials(path: Path, new: dict[str, Any]) -> None:
    """Merge ``new`` into the credentials file (0600): a re-issued key replaces the old one of that agency."""
    old: dict[str, Any] = {"admin_token": None, "agencies": []}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and isinstance(loaded.get("agencies"), list):
                old = loaded
        except ValueError:
            log.warning("%s is not JSON; rewriting it", path.name)
    fresh_ids = {a["id"] for a in new["agencies"]}
    merged = {
        "admin_token": new["admin_token"] or old.get("admin_token"),
        "agencies": [a for a in old["agencies"] if a.get("id") not in fresh_ids] + new["agencies"],
    }
    atomic_write(path, (json.dumps(merged, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


__all__ = [
    "CITY_ID",
    "CREDENTIALS_FILE",
    "DEMO_AGENCIES",
    "RELAYER_ACCOUNT",
    "VERIFIER_RECORD",
    "City",
    "ProvisionedAgency",
    "bootstrap_city",
    "city_exists",
    "create_city",
    "load_city",
]
