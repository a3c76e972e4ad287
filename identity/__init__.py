"""identity/: citizen registry, SD-JWT VC digital IDs, presentations, the status list, the QR transport, the wallet.

Signing, verifying, base64url, JWKs and sealing come from the crypto core in ``keys``; nothing here calls
``cryptography`` itself.
"""

from identity.cccd import CitizenInput, age_on, check_birth_date, parse_citizen, validate_cccd
from identity.errors import (
    CccdInvalid,
    CccdMismatch,
    CitizenExists,
    CitizenInputError,
    CitizenNotFound,
    ClaimNotAvailable,
    CredentialError,
    CredentialNotFound,
    DisclosureInvalid,
    HolderKeyInvalid,
    SdJwtMalformed,
    StatusListFull,
    StatusListInvalid,
    StatusListNotFound,
    TransportError,
    TransportTooLarge,
    WalletError,
    WalletLocked,
)
from identity.models import Citizen, Credential, StatusListRow
from identity.presentation import available_claims, present, sd_hash, select
from identity.sdjwt import (
    Disclosure,
    IssuedSdJwt,
    Jws,
    SdJwt,
    issue_sd_jwt,
    make_disclosure,
    parse_disclosure,
    parse_jws,
    split_compact,
)
from identity.service import (
    citizen_claims,
    get_citizen,
    issue_credential,
    register_citizen,
    revoke_credential,
    status_list_token,
)
from identity.status_list import (
    StatusList,
    StatusListCache,
    StatusListToken,
    parse_status_list_jwt,
    status_list_jwt,
)
from identity.transport import decode as decode_transport
from identity.transport import encode as encode_transport
from identity.transport import is_transport
from identity.wallet import Wallet, WalletEntry, create_wallet, open_wallet, verification_link

__all__ = [
    "CccdInvalid",
    "CccdMismatch",
    "Citizen",
    "CitizenExists",
    "CitizenInput",
    "CitizenInputError",
    "CitizenNotFound",
    "ClaimNotAvailable",
    "Credential",
    "CredentialError",
    "CredentialNotFound",
    "Disclosure",
    "DisclosureInvalid",
    "HolderKeyInvalid",
    "IssuedSdJwt",
    "Jws",
    "SdJwt",
    "SdJwtMalformed",
    "StatusList",
    "StatusListCache",
    "StatusListFull",
    "StatusListInvalid",
    "StatusListNotFound",
    "StatusListRow",
    "StatusListToken",
    "TransportError",
    "TransportTooLarge",
    "Wallet",
    "WalletEntry",
    "WalletError",
    "WalletLocked",
    "age_on",
    "available_claims",
    "check_birth_date",
    "citizen_claims",
    "create_wallet",
    "decode_transport",
    "encode_transport",
    "get_citizen",
    "is_transport",
    "issue_credential",
    "issue_sd_jwt",
    "make_disclosure",
    "open_wallet",
    "parse_citizen",
    "parse_disclosure",
    "parse_jws",
    "parse_status_list_jwt",
    "present",
    "register_citizen",
    "revoke_credential",
    "sd_hash",
    "select",
    "split_compact",
    "status_list_jwt",
    "status_list_token",
    "validate_cccd",
    "verification_link",
]
