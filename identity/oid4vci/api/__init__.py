"""The OpenID4VCI HTTP layer: the metadata, offer, token, nonce and credential routes over identity.oid4vci."""

from identity.oid4vci.api.routes import build_router

__all__ = ["build_router"]
