"""ledger.chain: the DocumentRegistry contract, and everything that moves document commitments onto it.

- ``merkle``: the Merkle rule the contract checks, bit for bit (``MerkleTree``, ``compute_root``, ``verify_proof``).
- ``reader``: reading the registry over an injected ``Web3`` (``RegistryReader``: views, events, blocks, receipts);
  it is the direct ``ChainStatusReader``, one ``eth_call`` per answer.
- ``client``: ``RegistryClient``, a reader that also signs and sends ``anchor`` and ``revoke`` transactions.
- ``proof``: what a verifier needs from the chain: a document's anchor ``Proof``, the registry's answer
  (``DocumentChainStatus``, ``RevocationReason``) and the ``ChainStatusReader`` interface.
- ``index``: a local index of the registry's events (``ChainIndexer``) and the reader over it
  (``IndexedStatusReader``, falling back to a ``RegistryReader``).
- ``outbox``, ``anchoring``: the durable outbox of anchor and revoke transactions, and the worker that sends them.
- ``stored_proofs``: proofs from this database's confirmed batches, with their parsed trees kept between reads.
- ``rpc_transport``: the JSON-RPC transport with deadlines and a breaker; ``rpc_failover``: several endpoints of one
  chain, a call failing over to the next healthy one; ``types``: the records the client returns.

Private helpers: ``_abi`` (the compiled contract), ``_args`` (argument checks), ``_jsonrpc`` (the one JSON-RPC batch
path), ``_index_rpc`` (the indexer's raw reads), ``_outbox_tx`` (the two kinds of outbox transaction), ``_rpcurl``.
Nothing here imports ``ledger.documents``.
"""

from ledger.chain._rpcurl import redact_rpc_url
from ledger.chain.anchoring import (
    MAX_ATTEMPTS,
    AnchorChain,
    Anchorer,
    StepReport,
    WorkerConfig,
    pending_count,
    pending_revocations,
)
from ledger.chain.client import ANCHOR_GAS_LIMIT, DEPLOY_GAS_LIMIT, RegistryClient, revoke_gas_limit
from ledger.chain.index import (
    REORG_DEPTH,
    ChainCursor,
    ChainIndexer,
    ChainIndexStale,
    IndexedAnchor,
    IndexedRevocation,
    IndexedStatusReader,
    IndexState,
    StateSource,
)
from ledger.chain.merkle import (
    HASH_SIZE,
    MAX_PROOF_LENGTH,
    MerkleTree,
    compute_root,
    keccak256,
    leaf_hash,
    node_hash,
    verify_proof,
)
from ledger.chain.outbox import (
    CONFIRMED_STATES,
    OPEN_STATES,
    AnchorBatch,
    AnchorLeaf,
    BatchState,
    CutBatch,
    LeafProof,
    OutboxTx,
    RevocationTx,
    as_utc,
    cut_batches,
    enqueue,
    enqueue_many,
    enqueue_revocation,
    leaf_proof,
    revocation_of,
    send_everything_again,
)
from ledger.chain.proof import (
    ChainStatusReader,
    DocumentChainStatus,
    Proof,
    RevocationReason,
    proof_root,
    reason_of,
)
from ledger.chain.reader import RegistryReader
from ledger.chain.rpc_failover import (
    AllEndpointsDown,
    EndpointStatus,
    FailoverHTTPProvider,
    endpoint_statuses,
    listen_for_rpc_errors,
    rpc_provider,
)
from ledger.chain.rpc_transport import DeadlineHTTPProvider, NodeNotAnswering, rpc_deadline
from ledger.chain.types import AnchorRecord, AnchorResult, BlockInfo, Fees, SignedTx, TxReceipt

__all__ = [
    "ANCHOR_GAS_LIMIT",
    "CONFIRMED_STATES",
    "DEPLOY_GAS_LIMIT",
    "HASH_SIZE",
    "MAX_ATTEMPTS",
    "MAX_PROOF_LENGTH",
    "OPEN_STATES",
    "REORG_DEPTH",
    "AllEndpointsDown",
    "AnchorBatch",
    "AnchorChain",
    "AnchorLeaf",
    "AnchorRecord",
    "AnchorResult",
    "Anchorer",
    "BatchState",
    "BlockInfo",
    "ChainCursor",
    "ChainIndexStale",
    "ChainIndexer",
    "ChainStatusReader",
    "CutBatch",
    "DeadlineHTTPProvider",
    "DocumentChainStatus",
    "EndpointStatus",
    "FailoverHTTPProvider",
    "Fees",
    "IndexState",
    "IndexedAnchor",
    "IndexedRevocation",
    "IndexedStatusReader",
    "LeafProof",
    "MerkleTree",
    "NodeNotAnswering",
    "OutboxTx",
    "Proof",
    "RegistryClient",
    "RegistryReader",
    "RevocationReason",
    "RevocationTx",
    "SignedTx",
    "StateSource",
    "StepReport",
    "TxReceipt",
    "WorkerConfig",
    "as_utc",
    "compute_root",
    "cut_batches",
    "endpoint_statuses",
    "enqueue",
    "enqueue_many",
    "enqueue_revocation",
    "keccak256",
    "leaf_hash",
    "leaf_proof",
    "listen_for_rpc_errors",
    "node_hash",
    "pending_count",
    "pending_revocations",
    "proof_root",
    "reason_of",
    "redact_rpc_url",
    "revocation_of",
    "revoke_gas_limit",
    "rpc_deadline",
    "rpc_provider",
    "send_everything_again",
    "verify_proof",
]
