"""keys/: key generation, encrypted keystore, key rings, agency credentials, JWKS and the signed trust list."""

from keys.agencies import (
    Agency,
    ApiKey,
    IssuedApiKey,
    Principal,
    authenticate,
    bearer_token,
    create_agency,
    disable_agency,
    issue_api_key,
    list_agencies,
    require_role,
    revoke_api_key,
)
from keys.bootstrap import City, bootstrap_city, city_exists, create_city, load_city
from keys.errors import InvalidInput, KeystoreError, NotFound, XacthucError
from keys.generate import LocalSigner, generate_eth_account, generate_signing_key
from keys.jwk import jwk_thumbprint
from keys.jws import VerifiedJWS, sign_jws, verify_jws
from keys.keyring import AgencyProfile, KeyRecord, KeyRing
from keys.keystore import KdfParams, Keystore, Passphrase, dev_passphrase, passphrase_from_file
from keys.protocols import KeyResolver, Signer, TrustedKey
from keys.trust_list import TrustedAgency, TrustList, verify_trust_list
from keys.validity import check_valid_at

__all__ = [
    "Agency",
    "AgencyProfile",
    "ApiKey",
    "City",
    "InvalidInput",
    "IssuedApiKey",
    "KdfParams",
    "KeyRecord",
    "KeyResolver",
    "KeyRing",
    "Keystore",
    "KeystoreError",
    "LocalSigner",
    "NotFound",
    "Passphrase",
    "Principal",
    "Signer",
    "TrustList",
    "TrustedAgency",
    "TrustedKey",
    "VerifiedJWS",
    "XacthucError",
    "authenticate",
    "bearer_token",
    "bootstrap_city",
    "check_valid_at",
    "city_exists",
    "create_agency",
    "create_city",
    "dev_passphrase",
    "disable_agency",
    "generate_eth_account",
    "generate_signing_key",
    "issue_api_key",
    "jwk_thumbprint",
    "list_agencies",
    "load_city",
    "passphrase_from_file",
    "require_role",
    "revoke_api_key",
    "sign_jws",
    "verify_jws",
    "verify_trust_list",
]
