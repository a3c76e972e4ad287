"""Signatures and verifications per second, ES256 and EdDSA: through the key ring vs raw ``cryptography``.

"ring" signs a compact JWS with ``KeyRing.sign_jws`` (newest active key, JWS encoding) and verifies it with
``verify_jws`` against the ring plus ``KeyRing.verify_key`` (validity window); "raw" calls the ``cryptography``
key directly on the same signing input. ``overhead`` is raw ops/s divided by ring ops/s (target <= 1.5).
Calls alternate one by one and each side's median call time gives its rate, which damps a shared machine's noise.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from keys.jws import verify_jws
from keys.keyring import KeyRing
from keys.keystore import TEST_KDF, Keystore

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
PAYLOAD = {"iss": "ubnd-hcm", "sha256": "ab" * 32, "doc": "2392/QĐ-UBND", "iat": 1768467600}


def _best_of(raw: Callable[[], object], ours: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Ops/s of both from the median of interleaved single calls: on a shared machine, load hits both alike and the
    median shrugs off the calls a neighbour's burst slowed down."""
    timer = time.perf_counter_ns
    raw_ns: list[int] = []
    ours_ns: list[int] = []
    raw()
    ours()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(raw_ns) < 200:
        for fn, sink in ((raw, raw_ns), (ours, ours_ns)):
            t = timer()
            fn()
            sink.append(timer() - t)
    return 1e9 / statistics.median(raw_ns), 1e9 / statistics.median(ours_ns)


def _one(alg: str, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        ring = KeyRing.create(
            Keystore.create(Path(d) / "keys", "bench passphrase", kdf=TEST_KDF), "bench", NOW, alg=alg
        )
        token = ring.sign_jws(PAYLOAD, NOW)
        signing_input = token.rsplit(".", 1)[0].encode()
        key: Any = ring.keystore.load_signer(ring.signer(NOW).kid)._key  # the same private key, used raw

        if alg == "ES256":
            der = key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            pub_ec: ec.EllipticCurvePublicKey = key.public_key()

            def raw_sign() -> object:
                return key.sign(signing_input, ec.ECDSA(hashes.SHA256()))

            def raw_verify() -> object:
                pub_ec.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
                return None
        else:
            sig = key.sign(signing_input)
            pub_ed: ed25519.Ed25519PublicKey = key.public_key()

            def raw_sign() -> object:
                return key.sign(signing_input)

            def raw_verify() -> object:
                pub_ed.verify(sig, signing_input)
                return None

        def ring_sign() -> object:
            return ring.sign_jws(PAYLOAD, NOW)

        def ring_verify() -> object:
            verified = verify_jws(token, ring, issuer_id="bench")
            return ring.verify_key(verified.header["kid"], NOW)

        out: dict[str, Any] = {}
        for op, raw, ours in (("sign", raw_sign, ring_sign), ("verify", raw_verify, ring_verify)):
            print(f"bench_keys: {alg} {op}", file=sys.stderr)
            r, k = _best_of(raw, ours, seconds)
            out[op] = {"raw_per_s": round(r), "ring_per_s": round(k), "overhead": round(r / k, 3)}
        return out


def run(seconds: float = 1.0) -> dict[str, Any]:
    """``{"ES256": {"sign": {...}, "verify": {...}}, "EdDSA": {...}, "target_overhead": 1.5}``."""
    return {"ES256": _one("ES256", seconds), "EdDSA": _one("EdDSA", seconds), "target_overhead": 1.5}


if __name__ == "__main__":
    import json

    json.dump(run(), sys.stdout, indent=2)
    sys.stdout.write("\n")
