"""ledger.documents: Decree 30 documents, their signed receipts and QR payloads, issuing, status, proof bundles and
revocation (recorded here, sent to the chain by ledger.chain's worker)."""
