"""identity/holder/: the wallet's side of OpenID4VCI (receive a credential from an offer) and OpenID4VP (answer a
relying party's signed request), over an ``httpx.Client`` the caller passes in (a live server, or one bound to the
app in tests). The wallet file and its key come from ``identity.wallet``; the crypto from ``keys``."""

from identity.holder.offer import CredentialOffer, parse_offer_link
from identity.holder.receive import PRE_AUTHORIZED_GRANT, PROOF_TYP, Received, fetch_offer, receive
from identity.holder.respond import (
    PresentationRequest,
    Response,
    fetch_request,
    parse_request_link,
    refuse,
    respond,
)

__all__ = [
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "CredentialOffer",
    "PresentationRequest",
    "Received",
    "Response",
    "fetch_offer",
    "fetch_request",
    "parse_offer_link",
    "parse_request_link",
    "receive",
    "refuse",
    "respond",
]
