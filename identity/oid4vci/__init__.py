"""identity.oid4vci: the OpenID4VCI 1.0 credential issuer (pre-authorized code flow) of the citizen digital ID.

The service's public URL is the credential issuer and its own authorization server. An identity agency creates an
offer for one of its citizens (:func:`create_offer`, :func:`offer_links`); the wallet fetches it, trades the
pre-authorized code and the clerk's transaction code for an access token, gets a c_nonce, and exchanges a proof of
its key for a credential bound to that key (docs/identity.md, "Issuing over OpenID4VCI").
"""

from identity.oid4vci.metadata import (
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
)
from identity.oid4vci.models import AccessTokenRow, NonceRow, OfferRow
from identity.oid4vci.offers import (
    CREDENTIAL_CONFIGURATION_ID,
    MAX_TX_CODE_ATTEMPTS,
    OFFER_TTL,
    PRE_AUTHORIZED_GRANT,
    NewOffer,
    OfferLinks,
    create_offer,
    credential_offer,
    offer_links,
)
from identity.oid4vci.proof import PROOF_TYP, HolderProof, check_proof
from identity.oid4vci.tokens import (
    ACCESS_TOKEN_TTL,
    NONCE_TTL,
    AccessGrant,
    IssuedToken,
    access_grant,
    consume_nonce,
    new_nonce,
    redeem_pre_authorized_code,
    spend_access_token,
)

__all__ = [
    "ACCESS_TOKEN_TTL",
    "CREDENTIAL_CONFIGURATION_ID",
    "MAX_TX_CODE_ATTEMPTS",
    "NONCE_TTL",
    "OFFER_TTL",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYP",
    "AccessGrant",
    "AccessTokenRow",
    "HolderProof",
    "IssuedToken",
    "NewOffer",
    "NonceRow",
    "OfferLinks",
    "OfferRow",
    "access_grant",
    "authorization_server_metadata",
    "check_proof",
    "consume_nonce",
    "create_offer",
    "credential_issuer_metadata",
    "credential_offer",
    "jwt_vc_issuer_metadata",
    "new_nonce",
    "offer_links",
    "redeem_pre_authorized_code",
    "spend_access_token",
]
