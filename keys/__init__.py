"""keys/: the crypto core (base64url, JWK, JWS, sealing), key generation, encrypted keystore, key rings, agency
credentials, JWKS and the signed trust list. Every package signs, verifies and seals through these names."""

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
from keys.encoding import CryptoInputError, b64url_decode, b64url_encode, json_bytes, json_loads, sha256_b64url
from keys.errors import InvalidInput, KeystoreError, NotFound, XacthucError
from keys.generate import LocalSigner, generate_eth_account, generate_signing_key
from keys.holder_key import P256Key
from keys.jwk import checked_public_jwk, jwk_alg, jwk_thumbprint, public_jwk_members
from keys.jws import (
    ALLOWED_ALGS,
    VerifiedJWS,
    decode_unverified,
    sign_jws,
    verify_jws,
    verify_signature,
)
from keys.keyring import AgencyProfile, KeyRecord, KeyRing
from keys.keystore import KdfParams, Keystore, Passphrase, dev_passphrase, passphrase_from_file
from keys.protocols import KeyResolver, Signer, TrustedKey
from keys.sealing import ScryptParams, UnsealFailed, seal, seal_with_key, unseal, unseal_with_key
from keys.trust_list import TrustedAgency, TrustList, verify_trust_list
from keys.validity import check_valid_at

__all__ = [
    "ALLOWED_ALGS",
    "Agency",
    "AgencyProfile",
    "ApiKey",
    "City",
    "CryptoInputError",
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
    "P256Key",
    "Passphrase",
    "Principal",
    "ScryptParams",
    "Signer",
    "TrustList",
    "TrustedAgency",
    "TrustedKey",
    "UnsealFailed",
    "VerifiedJWS",
    "XacthucError",
    "authenticate",
    "b64url_decode",
    "b64url_encode",
    "bearer_token",
    "bootstrap_city",
    "check_valid_at",
    "checked_public_jwk",
    "city_exists",
    "create_agency",
    "create_city",
    "decode_unverified",
    "dev_passphrase",
    "disable_agency",
    "generate_eth_account",
    "generate_signing_key",
    "issue_api_key",
    "json_bytes",
    "json_loads",
    "jwk_alg",
    "jwk_thumbprint",
    "list_agencies",
    "load_city",
    "passphrase_from_file",
    "public_jwk_members",
    "require_role",
    "revoke_api_key",
    "seal",
    "seal_with_key",
    "sha256_b64url",
    "sign_jws",
    "unseal",
    "unseal_with_key",
    "verify_jws",
    "verify_signature",
    "verify_trust_list",
]
