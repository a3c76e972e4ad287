"""Connecting to the chain: the embedded anvil (default) or any JSON-RPC node, and the registry deployment."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from ledger.chain.client import RegistryClient
from ledger.chain.rpc_failover import FailoverHTTPProvider, endpoint_statuses, rpc_provider
from ledger.documents.receipt import Registry
from ledger.errors import ChainUnavailable, RegistryMissing, RegistryOutdated
from xacthuc.devchain import AnvilNode, find_anvil_binary
from xacthuc.settings import Settings

log = logging.getLogger("xacthuc.chain")

REGISTRY_FILE = "registry.json"
NODE_FILE = "node.json"


@dataclass
class ChainHandle:
    """The web3 connection, and the anvil process when we started one."""

    w3: Web3
    url: str
    node: AnvilNode | None

    def close(self) -> None:
        if self.node is not None:
            self.node.stop()
            record = self.node.state_file.parent / NODE_FILE if self.node.state_file else None
            if record is not None:
                record.unlink(missing_ok=True)


def web3_for(url: str, settings: Settings) -> Web3:
    """A ``Web3`` over ``url`` whose every call has the ``XACTHUC_RPC_TIMEOUT`` deadline
    (``ledger.chain.rpc_transport``); several comma-separated URLs fail over (``ledger.chain.rpc_failover``), and
    must serve one chain (``RPC_CHAIN_MISMATCH`` otherwise)."""
    w3 = Web3(rpc_provider(url, timeout=settings.rpc_timeout))
    if isinstance(w3.provider, FailoverHTTPProvider):
        w3.provider.check_chain_ids()
    return w3


def rpc_report(w3: Web3 | None) -> dict[str, Any] | None:
    """Which RPC endpoint calls go to and which are down, credentials redacted (``/readyz``, ``chain status``):
    ``{"in_use": url or None, "down": [url, ...], "endpoints": [...]}``; None without an HTTP node (eth-tester)."""
    statuses = endpoint_statuses(w3.provider) if w3 is not None else []
    if not statuses:
        return None
    return {
        "in_use": next((s.url for s in statuses if s.in_use), None),
        "down": [s.url for s in statuses if not s.up],
        "endpoints": [s.to_dict() for s in statuses],
    }


def connect(settings: Settings, *, start_node: bool = True) -> ChainHandle:
    """Connect to ``XACTHUC_RPC_URL``, or to the embedded node another xacthuc process of this data dir runs, or
    start the embedded anvil: its state under the data dir, on ``XACTHUC_ANVIL_PORT`` (refused when taken) or a
    free port, recorded in ``<data dir>/anvil/node.json`` while it runs so the data dir's other commands find it."""
    if settings.rpc_url:
        return ChainHandle(web3_for(settings.rpc_url, settings), settings.rpc_url, None)
    running = _running_embedded_node(settings)
    if running is not None:  # another xacthuc process (serve) runs the embedded node: share it
        return ChainHandle(web3_for(running, settings), running, None)
    if not start_node:
        raise ChainUnavailable("no XACTHUC_RPC_URL is set and the embedded node is not running")
    state_dir = settings.data_dir / "anvil"
    state_dir.mkdir(parents=True, exist_ok=True)
    node = AnvilNode(
        find_anvil_binary(settings.anvil_bin),
        port=settings.anvil_port,
        state_file=state_dir / "state.json",
        chain_id=settings.chain_id,
    )
    node.start()
    _write_private_json(state_dir / NODE_FILE, {"url": node.url, "pid": os.getpid(), "node_pid": node.pid})
    log.info("embedded anvil at %s (state %s)", node.url, state_dir / "state.json")
    return ChainHandle(web3_for(node.url, settings), node.url, node)


def _running_embedded_node(settings: Settings) -> str | None:
    """The URL of the embedded node another live xacthuc process started on this data dir, if any."""
    path = settings.data_dir / "anvil" / NODE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if int(record["pid"]) == os.getpid():
        return None
    url = str(record["url"])
    try:
        _ = web3_for(url, settings).eth.chain_id
    except Exception:
        return None
    return url


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def recorded_registry(settings: Settings) -> Registry | None:
    """The registry documents are signed for, when it is known without deploying one: configured
    (``XACTHUC_REGISTRY_ADDRESS``, its chain id asked of ``XACTHUC_RPC_URL`` when that is set) or recorded in the
    data dir by the process that deployed it. None: neither."""
    if settings.registry_address:
        chain_id = settings.chain_id
        if settings.rpc_url:
            chain_id = int(web3_for(settings.rpc_url, settings).eth.chain_id)
        return Registry.of(chain_id, settings.registry_address)
    record = settings.data_dir / REGISTRY_FILE
    if record.exists():
        data = json.loads(record.read_text(encoding="utf-8"))
        return Registry.of(int(data["chain_id"]), str(data["address"]))
    return None


def ensure_registry(
    settings: Settings,
    w3: Web3,
    deployer: Any,
    admin: str,
    *,
    resend_all: Callable[[], tuple[int, int]] | None = None,
) -> RegistryClient:
    """The registry named by the settings, or the one this data dir recorded, or a new deployment.

    A data dir without a record deploys one. A recorded registry the chain does not hold (no code at its address,
    or the node serves another chain id) is ``REGISTRY_MISSING`` outside development mode: whatever was anchored
    there is gone. In development mode a new registry is deployed, after ``resend_all()`` has put every stored
    batch and revocation back in the outbox (it returns their counts), so all of it is anchored again on the new
    one; the log says so.
    """
    if settings.registry_address:
        configured = RegistryClient(w3, Web3.to_checksum_address(settings.registry_address))
        _refuse_outdated(configured, f"XACTHUC_REGISTRY_ADDRESS ({configured.address})")
        return configured
    record_path = settings.data_dir / REGISTRY_FILE
    chain_id = w3.eth.chain_id
    vanished: str | None = None
    if record_path.exists():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        address = Web3.to_checksum_address(record["address"])
        recorded_chain = int(record.get("chain_id") or 0)
        on_chain = recorded_chain == chain_id and bool(w3.eth.get_code(address))
        if on_chain:
            recorded = RegistryClient(w3, address)
            if recorded.is_current_build():
                return recorded
            if not settings.dev_mode:
                _refuse_outdated(recorded, f"the registry recorded in {record_path}")
            # development mode: a registry from another build (one without anchorFor, say) is replaced below, and
            # everything is sent again to the new one, as for a vanished registry
        elif not settings.dev_mode:
            raise RegistryMissing(
                f"the registry recorded in {record_path} ({address} on chain {recorded_chain}) is not on the chain"
                f" the node serves (chain {chain_id}): that chain was reset, or this is another node. Connect to the"
                " chain that holds it (XACTHUC_RPC_URL); only development mode (--dev) deploys a new registry and"
                " anchors every stored document again",
                address=address,
                chain_id=recorded_chain,
            )
        vanished = address
    # Back in the outbox before the deployment is recorded: a crash in between deploys (and resends) once more.
    counts = resend_all() if vanished is not None and resend_all is not None else (0, 0)
    client = deploy_registry(settings, w3, deployer, admin)
    if vanished is not None:
        log.warning(
            "DEV MODE: the registry recorded in %s (%s) is not on this chain; deployed a new one at %s and every"
            " stored batch (%d) and revocation (%d) will be anchored on it again",
            record_path,
            vanished,
            client.address,
            *counts,
        )
        if client.address != vanished:
            log.warning(
                "DEV MODE: receipts issued before name the vanished registry %s: those documents do not verify"
                " against the new one",
                vanished,
            )
    return client


def deploy_registry(settings: Settings, w3: Web3, deployer: Any, admin: str) -> RegistryClient:
    """Deploy a registry of this build (``admin`` its city admin) and record it in the data dir's registry.json."""
    client = RegistryClient.deploy(w3, deployer, admin)
    chain_id = client.chain_id
    record = {"chain_id": chain_id, "address": client.address, "block": client.from_block}
    _write_private_json(settings.data_dir / REGISTRY_FILE, record)
    log.info("deployed DocumentRegistry at %s on chain %s", client.address, chain_id)
    return client


def _refuse_outdated(client: RegistryClient, what: str) -> None:
    """``REGISTRY_OUTDATED`` for a registry on chain whose code is not this build's (nothing is redeployed
    silently outside development mode); ``REGISTRY_MISSING`` when there is no code at all."""
    if client.is_current_build():
        return
    chain_id = client.chain_id
    if not client.w3.eth.get_code(client.address):
        raise RegistryMissing(
            f"{what}: there is no contract at {client.address} on chain {chain_id}; check the address and the node",
            address=client.address,
            chain_id=chain_id,
        )
    raise RegistryOutdated(
        f"{what}: the contract at {client.address} on chain {chain_id} is another build of DocumentRegistry"
        " (an older one has no anchorFor/revokeFor, which the city's relayer account sends). Deploy the current"
        " registry with `xacthuc chain deploy` (it records the new address; documents issued from then on name"
        " it), or run the build this registry came from",
        address=client.address,
        chain_id=chain_id,
    )


def fund_dev_accounts(w3: Web3, addresses: list[str], wei: int = 10**21) -> None:
    """On a development chain, give each account ether (anvil's ``anvil_setBalance``)."""
    for address in addresses:
        if w3.eth.get_balance(Web3.to_checksum_address(address)) < wei // 10:
            w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]
