"""A real anchoring worker process for fault tests: ``python -m tests.ledger.worker_proc DB RPC REGISTRY KEY``.

It runs passes until killed. Tests SIGKILL it at a chosen moment and check that a fresh worker resumes.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from eth_account import Account
from web3 import HTTPProvider, Web3

from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from xacthuc.database import make_engine


def main(db_url: str, rpc_url: str, registry: str, key: str) -> None:
    account = Account.from_key(key)
    client = RegistryClient(Web3(HTTPProvider(rpc_url)), registry)
    config = WorkerConfig(batch_max=4, batch_interval=timedelta(0))
    anchorer = Anchorer(make_engine(db_url), client, {account.address: account}, config)
    while True:
        anchorer.step(force=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:5])
