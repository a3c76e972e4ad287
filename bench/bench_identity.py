"""Digital ID throughput, ours next to the SD-JWT reference implementation in the same run, and the QR size.

``run()`` returns the numbers; progress goes to stderr. Ours and the reference alternate call by call and each
side's rate comes from its median call time (as in ``bench_keys``): on the shared 2-core machine a neighbour's burst
then slows both alike, and the median ignores the calls it hit.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from identity import transport
from identity.presentation import present
from identity.sdjwt import issue_sd_jwt
from identity.status_list import StatusList, StatusListCache, status_list_jwt
from keys.encoding import b64url_encode
from keys.holder_key import P256Key
from keys.protocols import TrustedKey
from verifier.credential import verify_credential

ISSUER = "https://id.hcmc.example"
STATUS_URI = ISSUER + "/v1/status-lists/AAAAAAAAAAAAAAAA"
PUBLIC_URL = "https://xacthuc.hochiminhcity.gov.vn"
CLAIMS: dict[str, Any] = {
    "given_name": "Thị Minh Khai",
    "family_name": "Nguyễn",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "nationality": "VN",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    "personal_id": "079303001234",
    "age_over_18": True,
}
FOUR = ["full_name", "birth_date", "personal_id", "age_over_18"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _paired(ours: Callable[[], object], ref: Callable[[], object], n: int) -> tuple[float, float]:
    """Calls per second of ``ours`` and ``ref`` from the medians of ``n`` interleaved single calls each."""
    timer = time.perf_counter_ns
    ours_ns: list[int] = []
    ref_ns: list[int] = []
    ours()
    ref()
    for _ in range(n):
        for fn, sink in ((ours, ours_ns), (ref, ref_ns)):
            t = timer()
            fn()
            sink.append(timer() - t)
    return 1e9 / statistics.median(ours_ns), 1e9 / statistics.median(ref_ns)


class _Resolver:
    def __init__(self, key: TrustedKey) -> None:
        self.key = key

    def resolve(self, issuer_id: str, kid: str) -> TrustedKey | None:
        return self.key if (issuer_id, kid) == (self.key.issuer_id, self.key.kid) else None


def run(n: int = 400) -> dict[str, Any]:
    from jwcrypto.jwk import JWK
    from sd_jwt.common import SDObj
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer
    from sd_jwt.verifier import SDJWTVerifier

    now = datetime.now(UTC)
    iat = int(now.timestamp())
    issuer = P256Key(ec.generate_private_key(ec.SECP256R1()))
    holder = P256Key.generate()
    hjwk = {k: holder.public_jwk()[k] for k in ("kty", "crv", "x", "y")}
    visible = {
        "iss": ISSUER,
        "iat": iat,
        "exp": iat + 86400,
        "vct": "urn:vn:hcm:xacthuc:citizen_id:1",
        "cnf": {"jwk": hjwk},
        "status": {"status_list": {"idx": 4242, "uri": STATUS_URI}},
    }

    ref_issuer_key = JWK.from_json(json.dumps({**issuer.public_jwk(), "d": b64url_encode(issuer.private_bytes())}))
    ref_holder_key = JWK.from_json(json.dumps({**hjwk, "d": b64url_encode(holder.private_bytes())}))
    ref_claims = {k: v for k, v in visible.items() if k != "cnf"} | {SDObj(k): v for k, v in CLAIMS.items()}
    _log("identity bench: issuing (ours and reference, interleaved)")
    ours_issue, ref_issue = _paired(
        lambda: issue_sd_jwt(issuer, visible, CLAIMS, os.urandom),
        lambda: SDJWTIssuer(ref_claims, ref_issuer_key, ref_holder_key, extra_header_parameters={"typ": "dc+sd-jwt"}),
        n,
    )

    credential = issue_sd_jwt(issuer, visible, CLAIMS, os.urandom).compact
    pres = present(credential, FOUR, holder, audience="https://bank.example", nonce="n-1", now=now)
    status = status_list_jwt(
        issuer, StatusList(2**17), uri=STATUS_URI, issuer=ISSUER, now=now, ttl=timedelta(minutes=5)
    )
    resolver = _Resolver(
        TrustedKey(
            ISSUER,
            "Công an TP.HCM",
            issuer.kid,
            "ES256",
            issuer.public_jwk(),
            frozenset({"identity"}),
            now - timedelta(days=1),
            None,
            "active",
        )
    )
    cache = StatusListCache(lambda uri: status, lambda: now)

    def ours_verify() -> None:
        report = verify_credential(pres, resolver, cache, now, audience="https://bank.example", nonce="n-1")
        assert report.verdict == "valid"

    ref_holder = SDJWTHolder(
        SDJWTIssuer(
            ref_claims, ref_issuer_key, ref_holder_key, extra_header_parameters={"typ": "dc+sd-jwt"}
        ).sd_jwt_issuance
    )
    ref_holder.create_presentation({k: True for k in FOUR}, "n-1", "https://bank.example", ref_holder_key)
    ref_pres = ref_holder.sd_jwt_presentation
    ref_pub = JWK.from_json(json.dumps(issuer.public_jwk()))

    def ref_verify() -> None:
        SDJWTVerifier(ref_pres, lambda i, h: ref_pub, "https://bank.example", "n-1").get_verified_payload()

    _log("identity bench: verifying (ours and reference, interleaved)")
    ours_ver, ref_ver = _paired(ours_verify, ref_verify, n)

    import segno

    from verifier.qr import qr_version

    qr_payload = transport.encode(pres)
    qr = segno.make(qr_payload, error="m", boost_error=False)
    link = f"{PUBLIC_URL}/v#{qr_payload}"  # base43 needs no percent-encoding in a fragment
    out = {
        "credentials_issued_per_s": round(ours_issue),
        "credentials_issued_per_s_reference": round(ref_issue),
        "issue_speedup": round(ours_issue / ref_issue, 2),
        "presentations_verified_per_s": round(ours_ver),
        "presentations_verified_per_s_reference": round(ref_ver),
        "verify_speedup": round(ours_ver / ref_ver, 2),
        "qr_version_4_claims_kb": qr.version,
        "qr_version_link_4_claims_kb": qr_version(link),
        "qr_payload_chars": len(qr_payload),
        "qr_link_chars": len(link),
        "compact_chars": len(pres),
        "qr_version_compact_byte_mode": segno.make(pres, error="m", boost_error=False).version,
    }
    _log("identity bench: done")
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
