"""The local development chain: a real anvil process, started and stopped cleanly.

anvil runs in its own process group so that stopping it never leaves an orphan. With a state file it is started
with ``--state FILE --state-interval 1``: anvil loads the file on start and rewrites it every second, so even a
SIGKILL keeps the chain **except the last second or so**: blocks mined after the last rewrite are lost. A caller
that must not lose a transaction waits until the file has been rewritten after it (``wait_for_state_dump``) or
checks, after a restart, that its transactions are still there (the anchoring worker resends those that are not).
``stop()`` (SIGTERM) lets anvil write the file one last time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from keys.errors import XacthucError

__all__ = [
    "DEFAULT_CHAIN_ID",
    "AnvilError",
    "AnvilNode",
    "AnvilPortInUse",
    "anvil_rpc",
    "default_anvil_binary",
    "find_anvil_binary",
    "free_port",
    "fund",
    "mine",
    "port_is_free",
]

DEFAULT_CHAIN_ID = 31337
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_BINARY_IN_NODE_MODULES = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


class AnvilError(XacthucError):
    """The local anvil node could not be started or reached."""

    code = "ANVIL_ERROR"
    http_status = 503


class AnvilPortInUse(AnvilError):
    """The port configured for the embedded node is already taken."""

    code = "ANVIL_PORT_IN_USE"

    def __init__(self, message: str | None = None, *, port: int | None = None) -> None:
        super().__init__(message)
        self.port = port


def default_anvil_binary() -> Path:
    """Where ``npm ci`` puts the pinned anvil binary in this checkout."""
    return _PROJECT_ROOT / _BINARY_IN_NODE_MODULES


def find_anvil_binary(override: str | Path | None = None) -> Path:
    """The anvil binary: ``override`` (e.g. from XACTHUC_ANVIL_BIN) if given, else the pinned npm one."""
    path = Path(override) if override else default_anvil_binary()
    if not path.is_file() or not os.access(path, os.X_OK):
        hint = "" if override else " (run `make install` or `npm ci` to install @foundry-rs/anvil)"
        raise AnvilError(f"anvil binary not found or not executable: {path}{hint}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as anvil binds: with ``SO_REUSEADDR``, so connections
    of a stopped node lingering in TIME_WAIT do not count, a listening socket does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def anvil_rpc(url: str, method: str, params: Sequence[Any] = (), *, timeout: float = 5.0) -> Any:
    """One JSON-RPC call with the standard library (no web3 needed); raises AnvilError on an RPC error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local node
        reply = json.loads(response.read())
    if "error" in reply:
        raise AnvilError(f"{method} failed: {reply['error']}")
    return reply.get("result")


def fund(url: str, address: str, wei: int) -> None:
    """Sets ``address``'s balance on an anvil node (``anvil_setBalance``)."""
    anvil_rpc(url, "anvil_setBalance", [address, hex(wei)])


def mine(url: str, blocks: int = 1) -> None:
    """Mines ``blocks`` empty blocks on an anvil node (``anvil_mine``)."""
    anvil_rpc(url, "anvil_mine", [hex(blocks)])


def _load_prctl() -> Any:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    return None


_PRCTL = _load_prctl()  # resolved here, in the parent: the child only makes one C call before exec
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGTERM anvil when the process that started it dies, even by SIGKILL,
    so a crashed xacthuc never leaves an orphan node holding its port and state file. (The signal follows the
    starting *thread*: nodes are started from the main thread.)"""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class AnvilNode:
    """A real anvil process on 127.0.0.1, optionally persisting its chain to ``state_file``."""

    def __init__(
        self,
        binary: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        state_file: Path | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        extra_args: Sequence[str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        self.binary = binary
        self.host = host
        self.port = port
        self.state_file = state_file
        self.chain_id = chain_id
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise AnvilError("anvil has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        binary = find_anvil_binary(self.binary)
        args = [str(binary), "--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id)]
        if self.state_file is not None:
            args += ["--state", str(self.state_file), "--state-interval", "1"]
        return [*args, "--silent", *self.extra_args]

    def start(self) -> Self:
        """Starts anvil and returns once it answers eth_chainId (or raises AnvilError).

        Without a port, a free one is chosen; a given port that another process listens on is ``AnvilPortInUse``
        (anvil would die on it, and whatever listens there would answer in its place)."""
        if self.running:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        elif not port_is_free(self.host, self.port):
            raise AnvilPortInUse(
                f"port {self.port} on {self.host} is already in use (another node, or another xacthuc's): choose"
                " another XACTHUC_ANVIL_PORT, or leave it unset to use a free port",
                port=self.port,
            )
        command = self.command()
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: nobody reads anvil's stderr while it runs, and a full pipe would block it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the process is reaped
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,  # own process group: signals reach anvil alone, and we can reap it
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl() call, nothing that could take a lock
        )
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                stderr = ""
                if self._stderr is not None:
                    self._stderr.seek(0)
                    stderr = self._stderr.read().decode(errors="replace")
                self._reap_done()
                raise AnvilError(f"anvil exited with status {process.returncode}: {stderr.strip()[-2000:]}")
            try:
                chain_id = int(anvil_rpc(self.url, "eth_chainId", timeout=1.0), 16)
            except (OSError, ValueError, AnvilError):
                chain_id = None
            if chain_id is not None and process.poll() is not None:
                continue  # ours died: whatever answered is another process's node (reported above, next turn)
            if chain_id is not None:
                if chain_id != self.chain_id:
                    raise AnvilError(f"anvil answers chain id {chain_id}, expected {self.chain_id}")
                return
            if time.monotonic() >= deadline:
                raise AnvilError(f"anvil did not answer at {self.url} within {self.start_timeout:g} s")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its state file one last time), wait, then SIGKILL; always reaps."""
        self._signal_and_reap(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL at once, as a crash would (fault tests); reaps the process."""
        self._signal_and_reap(signal.SIGKILL, 10.0)

    def restart(self) -> Self:
        """Stops (if running) and starts again on the same port and state file."""
        self.stop()
        return self.start()

    def wait_for_state_dump(self, *, after: float | None = None, timeout: float = 10.0) -> None:
        """Waits until a state dump that began after time ``after`` (default: now) is on disk.

        Call it after a transaction to be sure a SIGKILL from then on cannot lose it. A dump that began just
        before ``after`` may finish after it, so this waits for the second rewrite: at most ~2 s.
        """
        if self.state_file is None:
            raise AnvilError("this node has no state file")
        threshold = time.time() if after is None else after
        rewrites = 0
        deadline = time.monotonic() + timeout
        while rewrites < 2:
            try:
                mtime = self.state_file.stat().st_mtime
            except FileNotFoundError:
                mtime = 0.0
            if mtime > threshold:
                rewrites += 1
                threshold = mtime
                continue
            if time.monotonic() >= deadline:
                raise AnvilError(f"anvil did not rewrite {self.state_file} within {timeout:g} s")
            time.sleep(0.05)

    def _signal_and_reap(self, sig: signal.Signals, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        finally:
            self._reap_done()

    def _reap_done(self) -> None:
        self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        # Last resort against orphans if the owner forgot stop(); normal code paths never rely on it.
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
