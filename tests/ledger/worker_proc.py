"""A real anchoring worker process for fault tests: ``python -m tests.ledger.worker_proc DB RPC REGISTRY KEY``.

It runs passes until killed. Tests SIGKILL it at a chosen moment and check that a fresh worker resumes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger.chain.anchoring import Anchorer, WorkerConfig
from ledger.chain.client import RegistryClient
from xacthuc.database import make_engine

ROOT = Path(__file__).resolve().parents[2]


def spawn(db_url: str, rpc_url: str, registry: str, account: LocalAccount) -> subprocess.Popen[bytes]:
    """This worker in a process of its own (stderr piped, for the test to show if it dies)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.worker_proc", db_url, rpc_url, registry, "0x" + bytes(account.key).hex()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


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
