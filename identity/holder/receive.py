"""Receive a credential over OpenID4VCI 1.0, pre-authorized code flow (section 3.5): offer, issuer and
authorization server metadata, token (with the transaction code), nonce, a proof JWT signed by the wallet's key, the
credential. The credential must be bound to that key (``cnf``) and be of the offered type before it is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from identity.errors import IssuerError, OfferUnavailable, TxCodeWrong, WalletError
from identity.holder._http import json_object, oauth_error, send
from identity.holder.offer import PRE_AUTHORIZED_GRANT, CredentialOffer, check_url, parse_offer, parse_offer_link
from identity.presentation import available_claims
from identity.sdjwt import parse_jws, split_compact
from identity.wallet import Wallet, WalletEntry
from keys.proof_jws import sign_with_jwk_header

__all__ = ["PRE_AUTHORIZED_GRANT", "PROOF_TYP", "Received", "fetch_offer", "receive", "well_known_url"]

PROOF_TYP = "openid4vci-proof+jwt"
FORMAT = "dc+sd-jwt"
_JSON = {"Accept": "application/json"}
_TRIES_LEFT = re.compile(r"(\d+) (?:tries|try|attempts?) left")


def well_known_url(identifier: str, name: str) -> str:
    """``/.well-known/{name}`` inserted between host and path (RFC 8414 section 3.1, OpenID4VCI section 12.2.2)."""
    parts = urlsplit(identifier)
    return f"{parts.scheme}://{parts.netloc}/.well-known/{name}{parts.path.rstrip('/')}"


def fetch_offer(client: httpx.Client, link: str) -> CredentialOffer:
    """The offer a link names (fetched from its ``credential_offer_uri``, or carried by value)."""
    ref = parse_offer_link(link)
    if ref.credential_offer is not None:
        return parse_offer(ref.credential_offer)
    assert ref.credential_offer_uri is not None
    r = send(client, IssuerError, "issuer", "GET", ref.credential_offer_uri, headers=_JSON)
    body = json_object(r, IssuerError, "issuer")
    if r.status_code in (400, 404, 410):
        raise OfferUnavailable(oauth_error(body)[1] or None)
    if r.status_code != 200:
        raise IssuerError(f"fetching the offer: HTTP {r.status_code}")
    return parse_offer(body)


@dataclass(frozen=True)
class Received:
    """A credential the wallet now holds (not yet saved: the caller saves the wallet)."""

    entry: WalletEntry
    credential: str
    credential_issuer: str
    configuration_id: str
    issuer_name: str | None
    claims: dict[str, Any]


def _metadata(client: httpx.Client, url: str, who: str) -> dict[str, Any]:
    r = send(client, IssuerError, who, "GET", url, headers=_JSON)
    if r.status_code != 200:
        raise IssuerError(f"the {who} has no metadata at {url} (HTTP {r.status_code})")
    return json_object(r, IssuerError, who)


def _endpoint(meta: dict[str, Any], name: str, required: bool = True) -> str | None:
    url = meta.get(name)
    if url is None and not required:
        return None
    if not isinstance(url, str):
        raise IssuerError(f"the issuer metadata has no {name}")
    return check_url(url, name, IssuerError)


def _pick_configuration(offer: CredentialOffer, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The first offered configuration this wallet can take: an SD-JWT VC bound by a jwk, proven by an ES256 JWT."""
    configs = meta.get("credential_configurations_supported")
    configs = configs if isinstance(configs, dict) else {}
    for cid in offer.credential_configuration_ids:
        config = configs.get(cid)
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            continue
        proof = (config.get("proof_types_supported") or {}).get("jwt") or {}
        if "ES256" in (proof.get("proof_signing_alg_values_supported") or []):
            return cid, config
    raise IssuerError("the offer names no credential this wallet can hold (dc+sd-jwt with an ES256 proof)")


def _token(client: httpx.Client, url: str, offer: CredentialOffer, tx_code: str | None) -> str:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    r = send(client, IssuerError, "issuer", "POST", url, data=form, headers=_JSON)
    body = json_object(r, IssuerError, "issuer")
    if r.status_code != 200:
        error, description = oauth_error(body)
        found = _TRIES_LEFT.search(description)
        if error == "invalid_grant" and found:  # the code was wrong and the offer lives on
            raise TxCodeWrong(description, tries_left=int(found.group(1)))
        if error == "invalid_grant":  # expired, used, or killed by too many wrong codes
            raise OfferUnavailable(description or None)
        if error == "invalid_request" and "tx_code" in description:
            raise TxCodeWrong(description)
        raise IssuerError(f"the token endpoint refused: {error or r.status_code} {description}".strip())
    token, token_type = body.get("access_token"), body.get("token_type")
    if not isinstance(token, str) or not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise IssuerError("the token endpoint gave no bearer access token")
    return token


def _nonce(client: httpx.Client, url: str | None) -> str | None:
    if url is None:
        return None
    r = send(client, IssuerError, "issuer", "POST", url, headers=_JSON)
    nonce = json_object(r, IssuerError, "issuer").get("c_nonce")
    if r.status_code != 200 or not isinstance(nonce, str):
        raise IssuerError(f"the nonce endpoint gave no c_nonce (HTTP {r.status_code})")
    return nonce


def _credential(client: httpx.Client, url: str, token: str, cid: str, proof: str) -> str:
    request = {"credential_configuration_id": cid, "proofs": {"jwt": [proof]}}
    headers = {**_JSON, "Authorization": f"Bearer {token}"}
    r = send(client, IssuerError, "issuer", "POST", url, json=request, headers=headers)
    body = json_object(r, IssuerError, "issuer")
    if r.status_code != 200:
        error, description = oauth_error(body)
        raise IssuerError(f"the credential endpoint refused: {error or r.status_code} {description}".strip())
    credentials = body.get("credentials")
    first = credentials[0] if isinstance(credentials, list) and credentials else None
    credential = first.get("credential") if isinstance(first, dict) else None
    if not isinstance(credential, str):
        raise IssuerError("the credential endpoint answered no credential (a deferred issuance is not supported)")
    return credential


def _display_name(meta: dict[str, Any], lang: str = "vi") -> str | None:
    display = meta.get("display")
    names = (
        [d for d in display if isinstance(d, dict) and isinstance(d.get("name"), str)]
        if isinstance(display, list)
        else []
    )
    for d in names:
        if d.get("locale") == lang:
            return str(d["name"])
    return str(names[0]["name"]) if names else None


def receive(
    client: httpx.Client, wallet: Wallet, offer: CredentialOffer, *, tx_code: str | None, now: datetime
) -> Received:
    """Run the pre-authorized code flow for ``offer`` and add the credential to ``wallet`` (in memory: save it)."""
    if offer.tx_code is not None and not tx_code:
        raise TxCodeWrong("the offer needs the transaction code the clerk gave you")
    issuer = offer.credential_issuer
    meta = _metadata(client, well_known_url(issuer, "openid-credential-issuer"), "issuer")
    if meta.get("credential_issuer") != issuer:
        raise IssuerError("the issuer metadata names another credential issuer than the offer")
    cid, config = _pick_configuration(offer, meta)
    servers = meta.get("authorization_servers")
    auth_server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], str) else issuer
    as_meta = _metadata(client, well_known_url(auth_server, "oauth-authorization-server"), "authorization server")
    if as_meta.get("issuer") != auth_server:
        raise IssuerError("the authorization server metadata names another issuer")
    token_url = _endpoint(as_meta, "token_endpoint")
    credential_url = _endpoint(meta, "credential_endpoint")
    assert token_url is not None and credential_url is not None
    token = _token(client, token_url, offer, tx_code if offer.tx_code is not None else None)
    nonce = _nonce(client, _endpoint(meta, "nonce_endpoint", required=False))
    claims: dict[str, Any] = {"aud": issuer, "iat": int(now.timestamp())}
    if nonce is not None:
        claims["nonce"] = nonce
    proof = sign_with_jwk_header(wallet.key, {"typ": PROOF_TYP}, claims)
    credential = _credential(client, credential_url, token, cid, proof)
    entry = wallet.import_credential(credential, now)  # refuses a credential not bound to the wallet's key
    payload = parse_jws(split_compact(credential).issuer_jwt).payload
    if "vct" in config and payload.get("vct") != config["vct"]:
        wallet.entries = [e for e in wallet.entries if e is not entry]
        raise WalletError("the issuer sent a credential of another type than it offered")
    return Received(entry, credential, issuer, cid, _display_name(meta), available_claims(credential))
