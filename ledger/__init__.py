"""ledger/: documents, Merkle batching, the anchoring outbox and worker, the chain client."""
