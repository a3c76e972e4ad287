from __future__ import annotations

import keys.errors as e

PINNED = {
    "KeystoreUnlockFailed": ("KEYSTORE_UNLOCK_FAILED", 500),
    "KeystoreCorrupt": ("KEYSTORE_CORRUPT", 500),
    "KeystoreExists": ("KEYSTORE_EXISTS", 409),
    "KeyNotFound": ("KEY_NOT_FOUND", 404),
    "NoActiveKey": ("KEY_NO_ACTIVE", 409),
    "JwsMalformed": ("JWS_MALFORMED", 400),
    "JwsAlgorithmRejected": ("JWS_ALG_REJECTED", 400),
    "JwsHeaderRejected": ("JWS_HEADER_REJECTED", 400),
    "JwsSignatureInvalid": ("JWS_SIGNATURE_INVALID", 400),
    "UnknownKey": ("KEY_UNKNOWN", 400),
    "KeyNotValidAt": ("KEY_NOT_VALID_AT", 400),
    "KeyCompromised": ("KEY_COMPROMISED", 400),
    "KeyRoleNotAllowed": ("KEY_ROLE_NOT_ALLOWED", 400),
    "TrustListInvalid": ("TRUST_LIST_INVALID", 400),
    "TrustListExpired": ("TRUST_LIST_EXPIRED", 400),
    "TrustListRollback": ("TRUST_LIST_ROLLBACK", 400),
    "Unauthenticated": ("UNAUTHENTICATED", 401),
    "Forbidden": ("FORBIDDEN", 403),
    "AgencyNotFound": ("AGENCY_NOT_FOUND", 404),
    "AgencyExists": ("AGENCY_EXISTS", 409),
    "ApiKeyNotFound": ("API_KEY_NOT_FOUND", 404),
}


def test_codes_are_pinned_and_unique() -> None:
    classes = [c for c in vars(e).values() if isinstance(c, type) and issubclass(c, e.XacthucError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    for name, (code, status) in PINNED.items():
        cls = getattr(e, name)
        assert (cls.code, cls.http_status) == (code, status)
