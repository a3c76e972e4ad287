"""Every table, imported in one place so that migrations and ``create_all`` see the whole schema."""

from ledger.outbox import AnchorBatch, AnchorLeaf

__all__ = ["AnchorBatch", "AnchorLeaf"]
