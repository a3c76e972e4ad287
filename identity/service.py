"""Domain operations of identity/: register citizens, issue and revoke credentials, serve status lists.

Every function takes its session, signer, clock value and randomness explicitly; none commits: the caller owns the
transaction (``xacthuc.database.session_scope``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from identity.cccd import CitizenInput, age_on, check_birth_date, parse_citizen
from identity.errors import (
    CitizenExists,
    CitizenNotFound,
    CredentialNotFound,
    HolderKeyInvalid,
    StatusListFull,
    StatusListNotFound,
)
from identity.models import Citizen, Credential, StatusListRow
from identity.sdjwt import Rng, issue_sd_jwt
from identity.status_list import DEFAULT_SIZE, StatusList, status_list_jwt
from keys.encoding import b64url_encode
from keys.errors import Forbidden
from keys.jwk import jwk_thumbprint, public_jwk_members
from keys.protocols import Signer

VCT = "urn:vn:hcm:xacthuc:citizen_id:1"
DEFAULT_TTL = timedelta(days=365)
STATUS_TTL = timedelta(minutes=5)
# A list is closed at half full so a random free index is found quickly and the herd stays large.
_FILL_LIMIT = 0.5
_INDEX_TRIES = 64


def credential_issuer(public_url: str, agency_id: str) -> str:
    """An agency's HTTPS issuer identifier, the ``iss`` of the credentials it issues: ``{PU}/agencies/{id}``.

    Its SD-JWT VC issuer metadata is then served at ``{PU}/.well-known/jwt-vc-issuer/agencies/{id}``.
    """
    return f"{public_url.rstrip('/')}/agencies/{agency_id}"


def issuer_agency_id(iss: str) -> str:
    """The agency id an ``iss`` names: ``<scheme>://<host>[/...]/agencies/<id>`` gives ``<id>``; anything else (the
    bare agency id of credentials issued before issuer identifiers were URLs) is taken as the agency id itself.

    Only the agency id is looked up in the trust list, so the host in ``iss`` grants nothing: the agency's keys must
    still have signed the credential.
    """
    if "://" not in iss:
        return iss
    try:
        parts = urlsplit(iss)
    except ValueError:
        return iss
    head, sep, agency = parts.path.rpartition("/agencies/")
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or not sep
        or not agency
        or "/" in agency
        or (head and not head.startswith("/"))
    ):
        return iss
    return agency


def _new_id(rng: Rng) -> str:
    return str(uuid.UUID(bytes=rng(16), version=4))


def _short_id(rng: Rng) -> str:
    # Status list ids go into every credential and so every QR code: 96 random bits are plenty and short.
    return b64url_encode(rng(12))


def register_citizen(
    session: Session,
    data: CitizenInput | Mapping[str, Any],
    now: datetime,
    rng: Rng = os.urandom,
    *,
    agency_id: str,
) -> Citizen:
    """Validate and store a citizen for the registering agency ``agency_id``.

    A number this agency already registered is refused with :class:`CitizenExists`; another agency's registrations
    are neither consulted nor revealed (each agency has its own registry, see :func:`get_citizen`).
    """
    citizen_in = data if isinstance(data, CitizenInput) else parse_citizen(data, now=now)
    check_birth_date(citizen_in.birth_date, now)  # also for input parsed earlier, against this clock
    taken = select(Citizen.id).where(Citizen.agency_id == agency_id, Citizen.cccd == citizen_in.cccd)
    if session.exec(taken).first() is not None:
        raise CitizenExists()
    citizen = Citizen(
        id=_new_id(rng),
        agency_id=agency_id,
        cccd=citizen_in.cccd,
        full_name=citizen_in.full_name,
        family_name=citizen_in.family_name,
        given_name=citizen_in.given_name,
        birth_date=citizen_in.birth_date,
        sex=citizen_in.sex,
        nationality=citizen_in.nationality,
        place_of_origin=citizen_in.place_of_origin,
        place_of_residence=citizen_in.place_of_residence,
        created_at=now,
    )
    session.add(citizen)
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration of the same number by the same agency won the race
        raise CitizenExists() from None
    return citizen


def get_citizen(session: Session, citizen_id: str, *, agency_id: str) -> Citizen:
    """The citizen ``citizen_id`` as seen by ``agency_id``: one another agency registered is :class:`CitizenNotFound`,
    exactly like an id that does not exist, so an id says nothing about other agencies' registries.

    Every operation on a citizen record (issuing, reading, credential offers) looks it up through here.
    """
    citizen = session.get(Citizen, citizen_id)
    if citizen is None or citizen.agency_id != agency_id:
        raise CitizenNotFound()
    return citizen


def citizen_claims(citizen: Citizen, now: datetime) -> dict[str, Any]:
    """The selectively disclosable claims of a citizen's credential, derived age claims as of ``now``."""
    age = age_on(citizen.birth_date, now.date())
    return {
        "given_name": citizen.given_name,
        "family_name": citizen.family_name,
        "full_name": citizen.full_name,
        "birth_date": citizen.birth_date.isoformat(),
        "sex": citizen.sex,
        "nationality": citizen.nationality,
        "place_of_origin": citizen.place_of_origin,
        "place_of_residence": citizen.place_of_residence,
        "personal_id": citizen.cccd,
        "age_over_18": age >= 18,
    }


def _allocate_index(session: Session, issuer_id: str, now: datetime, rng: Rng, size: int) -> tuple[StatusListRow, int]:
    if size & (size - 1) or size < 8:
        raise ValueError("status list size must be a power of two")
    row = session.exec(
        select(StatusListRow)
        .where(StatusListRow.issuer_id == issuer_id, StatusListRow.used < StatusListRow.size * _FILL_LIMIT)
        .order_by(col(StatusListRow.created_at))
    ).first()
    if row is None:
        row = StatusListRow(
            id=_short_id(rng), issuer_id=issuer_id, size=size, bits=bytes(size // 8), created_at=now, updated_at=now
        )
        session.add(row)
        session.flush()
    for _ in range(_INDEX_TRIES):
        # A random index, not the next one, so a credential's index says nothing about when it was issued.
        idx = int.from_bytes(rng(4), "big") % row.size
        taken = session.exec(
            select(func.count()).where(Credential.status_list_id == row.id, Credential.status_idx == idx)
        ).one()
        if not taken:
            row.used += 1
            session.add(row)
            return row, idx
    raise StatusListFull()


def issue_credential(
    session: Session,
    citizen_id: str,
    signer: Signer,
    issuer_id: str,
    holder_jwk: dict[str, Any] | None,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    rng: Rng = os.urandom,
    *,
    status_base_url: str,
    list_size: int = DEFAULT_SIZE,
    decoys: int = 0,
    iss: str | None = None,
) -> tuple[str, str]:
    """Issue a citizen's SD-JWT VC: returns ``(credential_id, compact SD-JWT with all disclosures)``.

    The issuer may only issue for a citizen it registered itself (else :class:`CitizenNotFound`). ``iss`` is the
    credential's issuer identifier, :func:`credential_issuer` of the agency (the HTTP API and the CLI pass it);
    without it the bare ``issuer_id`` goes into ``iss``, the form of credentials issued before.

    ``status_base_url`` is where ``GET /v1/status-lists/{id}`` is served, e.g. ``https://id.example/v1/status-lists``.
    """
    if iss is not None and issuer_agency_id(iss) != issuer_id:
        raise ValueError("iss must name the issuing agency")
    citizen = get_citizen(session, citizen_id, agency_id=issuer_id)
    holder = None
    if holder_jwk is not None:
        try:
            holder = public_jwk_members(holder_jwk)
        except ValueError as exc:
            raise HolderKeyInvalid() from exc
    row, idx = _allocate_index(session, issuer_id, now, rng, list_size)
    iat = int(now.timestamp())
    visible: dict[str, Any] = {
        "iss": iss if iss is not None else issuer_id,
        "iat": iat,
        "exp": iat + int(ttl.total_seconds()),
        "vct": VCT,
    }
    if holder is not None:
        visible["cnf"] = {"jwk": holder}
    visible["status"] = {"status_list": {"idx": idx, "uri": f"{status_base_url.rstrip('/')}/{row.id}"}}
    issued = issue_sd_jwt(signer, visible, citizen_claims(citizen, now), rng, decoys=decoys)
    credential = Credential(
        id=_new_id(rng),
        citizen_id=citizen.id,
        issuer_id=issuer_id,
        kid=signer.kid,
        vct=VCT,
        holder_thumbprint=jwk_thumbprint(holder) if holder else None,
        status_list_id=row.id,
        status_idx=idx,
        issued_at=now,
        expires_at=now + ttl,
    )
    session.add(credential)
    session.flush()
    return credential.id, issued.compact


def revoke_credential(
    session: Session, credential_id: str, now: datetime, *, issuer_id: str | None = None
) -> Credential:
    """Set the credential's status bit. Revoking twice is harmless and keeps the first time.

    With ``issuer_id``, only a credential that agency issued may be revoked (else ``Forbidden``); ``None`` is for
    callers already entitled to revoke any credential (the city admin, the local CLI).
    """
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise CredentialNotFound()
    if issuer_id is not None and credential.issuer_id != issuer_id:
        raise Forbidden("this credential was issued by another agency")
    row = session.get(StatusListRow, credential.status_list_id)
    if row is None:
        raise StatusListNotFound()
    bits = StatusList(row.size, row.bits)
    bits.set(credential.status_idx, 1)
    row.bits = bits.to_bytes()
    row.updated_at = now
    if credential.revoked_at is None:
        credential.revoked_at = now
    session.add(row)
    session.add(credential)
    session.flush()
    return credential


def status_list_issuer(session: Session, list_id: str) -> str:
    """The agency a status list belongs to: only its key may sign the list."""
    row = session.get(StatusListRow, list_id)
    if row is None:
        raise StatusListNotFound()
    return row.issuer_id


def status_list_id(uri: str, *, status_base_url: str) -> str | None:
    """The list id in ``uri`` when it is one of ours (``{status_base_url}/{id}``), else ``None``.

    Lets a verifier in this process read our own lists from the database instead of over HTTP.
    """
    prefix = status_base_url.rstrip("/") + "/"
    if not uri.startswith(prefix):
        return None
    list_id = uri[len(prefix) :]
    return list_id if list_id and "/" not in list_id and "?" not in list_id and "#" not in list_id else None


def status_list_token(
    session: Session,
    list_id: str,
    signer: Signer,
    *,
    status_base_url: str,
    now: datetime,
    ttl: timedelta = STATUS_TTL,
) -> str:
    """The signed status list token served at ``{status_base_url}/{list_id}``."""
    row = session.get(StatusListRow, list_id)
    if row is None:
        raise StatusListNotFound()
    return status_list_jwt(
        signer,
        StatusList(row.size, row.bits),
        uri=f"{status_base_url.rstrip('/')}/{row.id}",
        issuer=row.issuer_id,
        now=now,
        ttl=ttl,
    )
