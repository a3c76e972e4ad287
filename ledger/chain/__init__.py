"""ledger.chain: the registry client (web3), its ABI, the Merkle rule, the anchoring outbox and worker, the chain
index, and the proof and status records a verifier reads."""
