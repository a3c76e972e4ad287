"""keys/: key generation, encrypted keystore, key rings, JWKS and the signed trust list."""

from keys.errors import InvalidInput, KeystoreError, NotFound, XacthucError

__all__ = ["InvalidInput", "KeystoreError", "NotFound", "XacthucError"]
