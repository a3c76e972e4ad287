"""ledger/: administrative documents and their anchoring on chain, in two sub-packages.

- ``ledger.documents``: Decree 30 documents, their signed receipts and QR payloads, issuing, status, proof bundles,
  and recording revocations.
- ``ledger.chain``: the DocumentRegistry client and reader, the Merkle rule, the anchoring outbox and worker, the chain
  index, and the proof and status records a verifier reads.
- ``ledger.api``: the HTTP routes of documents (FastAPI; imported only by the app).

Dependencies point one way inside: ``documents`` uses ``chain``, never the reverse; ``_bulk`` holds the driver-level
bulk inserts both use. This module exports the ledger's error tree (``ledger.errors``) and imports nothing else, so
importing one sub-package never drags in the others.
"""

from ledger.errors import (
    AlreadyRevoked,
    BlockNotFound,
    ChainInputError,
    ChainUnavailable,
    DocumentFieldInvalid,
    EmptyBatch,
    EmptyMerkleTree,
    InvalidProof,
    InvalidReason,
    LedgerError,
    MerkleInputError,
    NotAnchorer,
    ProofTooLong,
    RegistryArtifactError,
    RegistryMissing,
    RegistryRevert,
    RootAlreadyAnchored,
    RootNotAnchored,
    TransactionRejected,
    TransactionTimeout,
    UnknownRevert,
    ZeroRoot,
)

__all__ = [
    "AlreadyRevoked",
    "BlockNotFound",
    "ChainInputError",
    "ChainUnavailable",
    "DocumentFieldInvalid",
    "EmptyBatch",
    "EmptyMerkleTree",
    "InvalidProof",
    "InvalidReason",
    "LedgerError",
    "MerkleInputError",
    "NotAnchorer",
    "ProofTooLong",
    "RegistryArtifactError",
    "RegistryMissing",
    "RegistryRevert",
    "RootAlreadyAnchored",
    "RootNotAnchored",
    "TransactionRejected",
    "TransactionTimeout",
    "UnknownRevert",
    "ZeroRoot",
]
