"""Shared steps of the end-to-end tests."""

from __future__ import annotations

import time

from sqlmodel import Session, select

from ledger.chain.anchoring import pending_revocations
from ledger.documents.issuing import DocumentRow
from ledger.documents.status import proof_for
from xacthuc.services import Services


def anchor_all(services: Services, timeout: float = 60.0) -> None:
    """Drive the worker (no waiting on its interval) until every stored document has its proof and every recorded
    revocation is confirmed on chain."""
    anchorer = services.anchorer()
    deadline = time.monotonic() + timeout
    with Session(services.engine) as s:
        commitments = s.exec(select(DocumentRow.commitment)).all()
    while True:
        anchorer.step(force=True)
        with Session(services.engine) as s:
            if all(proof_for(s, c) is not None for c in commitments) and pending_revocations(s) == 0:
                return
        assert time.monotonic() < deadline, "documents not anchored in time"
