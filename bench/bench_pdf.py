"""The stamped PDF (issue 13): size overhead of stamping, time to stamp and to verify the file of a 2 MB PDF.

Stamping is ``ledger.pdf.stamp_pdf`` (pypdf's incremental update, the font subset, the QR image); verifying the
file is what a stamped PDF adds to a verification: finding the stamp by a byte search and hashing the original
range (``verifier.pdf``), then ``file_matches``. The rest of a verification (signature, chain) is a QR code's
(bench_verify_http). Medians of several runs; a typical decision's payload and link.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from typing import Any

from ledger.pdf import StampText, stamp_pdf
from tests.pdf_samples import sample_pdf
from verifier.pdf import find_stamp, stamped_file_check
from verifier.qr import qr_matrix

RUNS = 7
PAYLOAD = "XD1:" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:" * 6 + "Z1"  # 283 characters, as a typical decision
LINK = "https://xacthuc.hochiminhcity.gov.vn/v#" + PAYLOAD
TEXT = StampText(host="xacthuc.hochiminhcity.gov.vn", number="2392/QĐ-UBND", document_id="01J9ZX3Q4K8M2N6P7R8S9T0V1W")


def _median_ms(fn: Callable[[], Any], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def run() -> dict[str, Any]:
    original = sample_pdf(pages=4, image_bytes=2 * 1024 * 1024 - 4096)
    qr = qr_matrix(LINK)
    stamped = stamp_pdf(original, payload=PAYLOAD, qr=qr, text=TEXT)  # warm: the font file is read once
    signed = hashlib.sha256(original).digest()

    def verify_file() -> None:
        stamp = find_stamp(stamped)
        assert stamp is not None
        assert stamped_file_check("file_matches", signed, stamp, stamped, None).code == "FILE_MATCHES"

    small = sample_pdf(pages=1)
    return {
        "original_bytes": len(original),
        "stamped_bytes": len(stamped),
        "overhead_bytes": len(stamped) - len(original),
        "overhead_bytes_1_page": len(stamp_pdf(small, payload=PAYLOAD, qr=qr, text=TEXT)) - len(small),
        "stamp_2mb_ms": _median_ms(lambda: stamp_pdf(original, payload=PAYLOAD, qr=qr, text=TEXT)),
        "verify_file_2mb_ms": _median_ms(verify_file, runs=RUNS * 3),
        "sha256_2mb_ms": _median_ms(lambda: hashlib.sha256(original).digest(), runs=RUNS * 3),
        "runs": RUNS,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
