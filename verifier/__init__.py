"""verifier/: QR decoding, the verification pipeline and its report, and the one service that runs it.

A bank verifying a QR code needs the city root key it pinned and any Ethereum JSON-RPC node::

    bank = third_party_verifier(rpc_url=..., trust_root=root_jwk, service_url="https://xacthuc.example")
    report = bank.verify(image=png_bytes)

:class:`Verifier` takes its sources (trust list, chain reader, status lists, proofs, clock) as the protocols of
:mod:`verifier.sources`; :func:`third_party_verifier` and :func:`offline_verifier` build one for a third party and
for the signed offline bundle.
"""

from verifier.dispatch import VerifyRequest
from verifier.offline import offline_verifier, verify_offline_bundle
from verifier.report import Report, Verdict
from verifier.service import Verifier
from verifier.third_party import third_party_verifier

__all__ = [
    "Report",
    "Verdict",
    "Verifier",
    "VerifyRequest",
    "offline_verifier",
    "third_party_verifier",
    "verify_offline_bundle",
]
