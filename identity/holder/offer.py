"""Credential offer links (OpenID4VCI 1.0 section 4.1) as a citizen meets them: the ``openid-credential-offer://``
link of the QR, the https wallet link ``{PU}/wallet#credential_offer_uri=...``, or the bare offer URI."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from identity.errors import IssuerError, WalletLinkInvalid
from keys.limits import WALLET_LINK_CHARS

__all__ = [
    "OFFER_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "CredentialOffer",
    "OfferLink",
    "check_url",
    "parse_offer",
    "parse_offer_link",
]

OFFER_SCHEME = "openid-credential-offer"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
_MAX_LINK = WALLET_LINK_CHARS


def check_url(url: str, what: str, error: type[Exception] = WalletLinkInvalid) -> str:
    """``url`` if it is https, or http to this machine (a development server); else ``error``."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return url
    raise error(f"{what} must be an https URL (http only to this machine): {url[:100]}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class OfferLink:
    """What an offer link holds: the offer by reference (``credential_offer_uri``) or by value."""

    credential_offer_uri: str | None = None
    credential_offer: dict[str, Any] | None = None


def _params(text: str) -> dict[str, str]:
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=20)
    except ValueError:
        return {}
    return {k: v[0] for k, v in parsed.items() if len(v) == 1}


def parse_offer_link(link: str) -> OfferLink:
    """Read an offer link; raises :class:`WalletLinkInvalid` for anything else."""
    link = link.strip()
    if not link or len(link) > _MAX_LINK:
        raise WalletLinkInvalid("not a credential offer link")
    parts = urlsplit(link)
    params = _params(parts.fragment) if parts.scheme in ("http", "https") and parts.fragment else {}
    if not params:
        params = _params(parts.query)
    if parts.scheme not in (OFFER_SCHEME, "http", "https"):
        raise WalletLinkInvalid("not a credential offer link")
    if "credential_offer_uri" in params and "credential_offer" in params:
        raise WalletLinkInvalid("an offer link holds credential_offer or credential_offer_uri, not both")
    if "credential_offer_uri" in params:
        return OfferLink(credential_offer_uri=check_url(params["credential_offer_uri"], "the offer URI"))
    if "credential_offer" in params:
        try:
            offer = json.loads(params["credential_offer"])
        except ValueError:
            offer = None
        if not isinstance(offer, dict):
            raise WalletLinkInvalid("the link's credential_offer is not a JSON object")
        return OfferLink(credential_offer=offer)
    if parts.scheme in ("http", "https") and not parts.fragment:
        return OfferLink(credential_offer_uri=check_url(link, "the offer URI"))  # the bare offer URI
    raise WalletLinkInvalid("not a credential offer link")


@dataclass(frozen=True)
class CredentialOffer:
    """A credential offer with a pre-authorized code (the only grant this wallet takes)."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: dict[str, Any] | None

    @property
    def tx_code_length(self) -> int | None:
        length = (self.tx_code or {}).get("length")
        return length if isinstance(length, int) else None

    @property
    def tx_code_description(self) -> str | None:
        text = (self.tx_code or {}).get("description")
        return text if isinstance(text, str) else None


def parse_offer(offer: dict[str, Any]) -> CredentialOffer:
    """Check a credential offer object (section 4.1.1); :class:`IssuerError` when it is not usable here."""
    issuer = offer.get("credential_issuer")
    ids = offer.get("credential_configuration_ids")
    grants = offer.get("grants")
    if not isinstance(issuer, str) or not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise IssuerError("the credential offer lacks credential_issuer or credential_configuration_ids")
    check_url(issuer, "the credential issuer", IssuerError)
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
    code = grant.get("pre-authorized_code") if isinstance(grant, dict) else None
    if not isinstance(code, str) or not code:
        raise IssuerError("the credential offer has no pre-authorized code (the only grant this wallet takes)")
    assert isinstance(grant, dict)
    tx_code = grant.get("tx_code")
    if tx_code is not None and not isinstance(tx_code, dict):
        raise IssuerError("the credential offer's tx_code is not an object")
    return CredentialOffer(issuer, tuple(ids), code, tx_code)
