"""Verification over HTTP: ``POST /v1/verify`` against a real ``xacthuc serve`` (SQLite, embedded anvil, worker and
chain index), from a few concurrent keep-alive clients on 127.0.0.1.

The server runs as its own process on a fresh temporary data dir and free ports. The benchmark issues ``n_docs``
documents in one ``POST /v1/documents:batch``, lets the server's worker anchor them, waits until a verification
answers from the chain index, then sends ``n_verify`` verifications (the documents in turn) from ``workers``
threads, each with its own ``httpx.Client``. Reported: p50/p95 latency per request and documents/s (wall clock),
the verdicts, and where the chain state came from (``index`` or ``chain``). With ``compare_direct`` the same runs
against a server whose index is off (``XACTHUC_INDEX_MAX_AGE=0``: one ``eth_call`` per verification).
Target: >= 300 verifications/s (issue 4). The indexed server is also measured with one sequential client
(``sequential``, ``http.client``) and, when ``wrk`` is installed, with one native sequential client
(``sequential_native``: ``wrk``, one connection). ``bench_side_by_side`` runs the same passes in turns with
OpenAttestation's sequential verification for the ratios; these one-pass figures are the fallback when it did
not run (``python -m bench openattestation verify_http``).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench._wrk import run_wrk, wrk_available

TARGET_PER_S = 300
DOC = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024 của Thành phố Hồ Chí Minh",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def _progress(msg: str) -> None:
    print(f"  verify_http: {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, ready: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Server:
    """``xacthuc serve`` in its own process group on a temporary data dir; stopped (and reaped) on exit."""

    def __init__(self, data_dir: Path, env: dict[str, str], extra_args: list[str] | None = None) -> None:
        self.port = _free_port()
        self.extra_args = extra_args or []
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "XACTHUC_ANVIL_PORT": str(_free_port()),
            "XACTHUC_PUBLIC_URL": self.url,
            # The worker at its default interval (2 s), as deployed: at 0.2 s it asked the node for its head five
            # times a second beside the measured requests, which cost the sequential rate 7 % (docs/benchmarks.md).
            "XACTHUC_LOG_LEVEL": "WARNING",
            "XACTHUC_RATE_LIMITS": "0",  # a bench measures the server, not its 429 answers
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / "serve.log"

    def __enter__(self) -> Server:
        xacthuc = Path(sys.executable).with_name("xacthuc")
        argv = [str(xacthuc), "serve", "--dev", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*argv, *self.extra_args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        wait_for("the server", self._ready)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"xacthuc serve exited with {self.proc.returncode}: {log}")
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def cpu_seconds(self) -> float | None:
        """CPU time the server process has used (Linux ``/proc``; None elsewhere)."""
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def api_key(self) -> str:
        creds = json.loads((self.data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
        return str(next(a["api_key"] for a in creds["agencies"] if a["id"] == "ubnd-hcm"))


def issue_and_anchor(server: Server, client: httpx.Client, n_docs: int) -> list[str]:
    docs = [
        {**DOC, "number": f"{i + 1}/QĐ-UBND", "file_base64": base64.b64encode(b"decision %d" % i).decode()}
        for i in range(n_docs)
    ]
    headers = {"Authorization": f"Bearer {server.api_key()}"}
    r = client.post("/v1/documents:batch", json={"documents": docs}, headers=headers)
    r.raise_for_status()
    issued = r.json()["documents"]
    last = issued[-1]["id"]
    wait_for("anchoring", lambda: client.get(f"/v1/documents/{last}").json()["status"] == "anchored")
    return [d["verify_url"] for d in issued]


def wait_for_source(client: httpx.Client, link: str, want: str = "index") -> None:
    """Until a verification of ``link`` through ``client`` reads its chain state from ``want`` (``index``: the
    server's chain index has caught up with the anchoring; ``chain``: one ``eth_call``)."""
    wait_for(
        f"a verification from the {want}",
        lambda: chain_state_source(client.post("/v1/verify", json={"payload": link}).json()) == want,
    )


def chain_state_source(report: dict[str, Any]) -> str:
    for check in report.get("checks", []):
        if check["name"] == "not_revoked":
            return str(check.get("data", {}).get("chain_state", {}).get("source", "none"))
    return "none"


def _measure(url: str, links: list[str], n_verify: int, workers: int) -> dict[str, Any]:
    latencies: list[float] = []
    verdicts: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    lock = threading.Lock()

    def work(k: int) -> None:
        mine: list[float] = []
        seen: Counter[str] = Counter()
        src: Counter[str] = Counter()
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(k, n_verify, workers):
                t = time.perf_counter()
                r = client.post("/v1/verify", json={"payload": links[i % len(links)]})
                mine.append(time.perf_counter() - t)
                report = r.json()
                seen[report.get("verdict", f"http-{r.status_code}")] += 1
                src[chain_state_source(report)] += 1
        with lock:
            latencies.extend(mine)
            verdicts.update(seen)
            sources.update(src)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    latencies.sort()
    return {
        "requests": n_verify,
        "workers": workers,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
        "docs_per_s": round(n_verify / wall),
        "verdicts": dict(verdicts),
        "chain_state": dict(sources),
    }


def measure_sequential(port: int, links: list[str], n_verify: int) -> dict[str, Any]:
    """One client, one keep-alive connection, one request at a time, through the standard library's ``http.client``
    (httpx costs the client about 2 ms of CPU a request on this machine: 431 against 1,819 requests/s against a
    trivial app, which would measure the client rather than the server)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    bodies = [json.dumps({"payload": link}).encode() for link in links]
    latencies: list[float] = []
    verdicts: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    wall = time.perf_counter()
    for i in range(n_verify):
        t = time.perf_counter()
        conn.request("POST", "/v1/verify", body=bodies[i % len(bodies)], headers=headers)
        response = conn.getresponse()
        data = response.read()
        latencies.append(time.perf_counter() - t)
        report = json.loads(data)
        verdicts[report.get("verdict", f"http-{response.status}")] += 1
        sources[chain_state_source(report)] += 1
    wall = time.perf_counter() - wall
    conn.close()
    latencies.sort()
    return {
        "requests": n_verify,
        "client": "http.client, one keep-alive connection",
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
        "docs_per_s": round(n_verify / wall),
        "verdicts": dict(verdicts),
        "chain_state": dict(sources),
    }


def sequential_passes(server: Server, links: list[str], n_verify: int, native_seconds: float = 5.0) -> dict[str, Any]:
    """One sequential keep-alive client against ``server``: ``http.client`` for ``n_verify`` requests
    (``sequential``), then, when ``wrk`` is installed, ``wrk`` with one connection for ``native_seconds``
    (``sequential_native``); each with the server's CPU per request."""
    _progress(f"verifying {n_verify} documents over HTTP, one client, sequentially")
    cpu = server.cpu_seconds()
    out: dict[str, Any] = {"sequential": measure_sequential(server.port, links, n_verify)}
    if cpu is not None:
        used = (server.cpu_seconds() or 0) - cpu
        out["sequential"]["server_cpu_ms_per_request"] = round(used / n_verify * 1000, 3)
    if wrk_available():
        # The same one sequential keep-alive client, native: http.client's own CPU (building the request, parsing
        # the head, in the same loop as the round trip) is the harness's, not the server's. The verdicts were
        # checked by the pass above; wrk counts any non-2xx answer.
        _progress("verifying over HTTP, one native client (wrk, one connection), sequentially")
        cpu = server.cpu_seconds()
        native = run_wrk([server.port], [json.dumps({"payload": x}).encode() for x in links], 1, native_seconds)
        if cpu is not None and native["requests"]:
            used = (server.cpu_seconds() or 0) - cpu
            native["server_cpu_ms_per_request"] = round(used / native["requests"] * 1000, 3)
        out["sequential_native"] = native
    return out


def serve_and_measure(n_docs: int, n_verify: int, workers: int, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="xacthuc-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        with Server(data_dir, env) as server, httpx.Client(base_url=server.url, timeout=60) as client:
            _progress(f"issuing and anchoring {n_docs} documents ({server.url})")
            links = issue_and_anchor(server, client, n_docs)
            want = "chain" if env.get("XACTHUC_INDEX_MAX_AGE") == "0" else "index"
            wait_for_source(client, links[-1], want)
            _measure(server.url, links, min(200, n_verify), workers)  # warm up
            _progress(f"verifying {n_verify} documents over HTTP with {workers} clients")
            cpu = server.cpu_seconds()
            result = _measure(server.url, links, n_verify, workers)
            if cpu is not None:
                # The server's own CPU per request (user + system): less sensitive to the machine's load than
                # documents/s, and 1000 / it is what one free core could serve.
                result["server_cpu_ms_per_request"] = round(((server.cpu_seconds() or 0) - cpu) / n_verify * 1000, 2)
            if want == "index":
                # One client, one keep-alive connection, one request at a time: the figure set against
                # OpenAttestation's sequential oa-verify in the same run (bench.__main__ computes the ratio).
                result.update(sequential_passes(server, links, n_verify))
                _progress("verifying in process (the server's verifier, same database and chain, no HTTP)")
                result["in_process"] = measure_in_process(data_dir, links, n_verify)
            return result


def measure_in_process(data_dir: Path, links: list[str], n: int) -> dict[str, Any]:
    """The server's own verification path (``ServerVerifier``: trust list, proof, chain index) without HTTP, on the
    running server's data dir (its database, keys and embedded node), one thread."""
    from ledger.chain.index import ChainIndexer
    from verifier.dispatch import VerifyRequest
    from xacthuc.server_verifier import ServerVerifier
    from xacthuc.services import Role, build_services
    from xacthuc.settings import Settings

    settings = Settings(_env_file=None, data_dir=data_dir, dev_mode=True)
    services = build_services(settings, role=Role.WORKER)  # the running server's data dir, node and registry
    try:
        services.indexer = ChainIndexer(services.engine, services.registry(), services.clock)
        services.indexer.sync()
        verify = ServerVerifier(services)
        for link in links[:100]:
            verify(VerifyRequest(payload=link))
        latencies: list[float] = []
        verdicts: Counter[str] = Counter()
        wall = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            report = verify(VerifyRequest(payload=links[i % len(links)]))
            latencies.append(time.perf_counter() - t)
            verdicts[report.verdict.value] += 1
        wall = time.perf_counter() - wall
    finally:
        services.close()
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 3),
        "docs_per_s": round(n / wall),
        "target_p50_ms": 2.0,
        "verdicts": dict(verdicts),
    }


def run(n_docs: int = 200, n_verify: int = 3000, workers: int = 4, compare_direct: bool = True) -> dict[str, Any]:
    load = os.getloadavg()
    result: dict[str, Any] = {"indexed": serve_and_measure(n_docs, n_verify, workers, {})}
    result["indexed"]["target_per_s"] = TARGET_PER_S
    if compare_direct:
        result["direct_eth_call"] = serve_and_measure(n_docs, n_verify // 3, workers, {"XACTHUC_INDEX_MAX_AGE": "0"})
    result["load_avg_before"] = [round(x, 2) for x in load]
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    result["note"] = (
        "xacthuc serve in its own process (uvicorn, one worker), clients in the benchmark process; "
        "the CPU is shared with other work, see load_avg"
    )
    return result


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
