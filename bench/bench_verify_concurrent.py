"""Concurrent verification through HTTP: two API processes, the load from separate processes (issue 14).

Two ``xacthuc serve`` processes share one temporary data dir (SQLite): the first runs the worker and the embedded
anvil, the second ``--no-worker`` with ``XACTHUC_RPC_URL`` pointing at the first one's node; each listens on its
own port. ``clients`` keep-alive connections, half of them on each port, send ``POST /v1/verify`` for ``seconds``:
from ``wrk`` (``make bench`` installs Debian's), one process per port, or without it from as many Python client
processes (not threads: the load generator must not share the servers' GIL or this process's), each one sequential
``http.client`` connection. Reported: verifications/s over both, p50/p99 latency, the verdicts, and each
server's CPU per request. The CPU is shared: the clients, both servers and anvil run on the same cores.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._wrk import run_wrk, wrk_available
from bench.bench_verify_http import Server, _progress, issue_and_anchor, wait_for_source

TARGET_PER_S = 1500
TARGET_P99_MS = 50.0


def _client(port: int, bodies: list[bytes], start_at: float, seconds: float, out: Any) -> None:
    """One sequential keep-alive client; puts (latencies, statuses) on ``out``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    i = 0
    while (t := time.perf_counter()) and time.time() < end:
        conn.request("POST", "/v1/verify", body=bodies[i % len(bodies)], headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        i += 1
    conn.close()
    out.put((latencies, statuses))


def _load(ports: list[int], bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 2.0  # every client process started and connected-ready by then
    procs = [
        ctx.Process(target=_client, args=(ports[k % len(ports)], bodies, start_at, seconds, queue))
        for k in range(clients)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for _ in procs:
        got, status = queue.get(timeout=seconds + 120)
        latencies.extend(got)
        for code, n in status.items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    for p in procs:
        p.join(timeout=30)
    latencies.sort()
    n = len(latencies)
    return {
        "load_generator": "python http.client processes (wrk not installed)",
        "clients": clients,
        "seconds": seconds,
        "requests": n,
        "verifications_per_s": round(n / seconds),
        "p50_ms": round(latencies[n // 2] * 1000, 2),
        "p99_ms": round(latencies[int(0.99 * (n - 1))] * 1000, 2),
        "statuses": statuses,
    }


def run(n_docs: int = 100, clients: int = 8, seconds: float = 10.0) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="xacthuc-bench-conc-") as tmp:
        data_dir = Path(tmp) / "var"
        first = Server(data_dir, {})
        with first, httpx.Client(base_url=first.url, timeout=60) as client:
            _progress(f"two API processes: issuing and anchoring {n_docs} documents through {first.url}")
            links = issue_and_anchor(first, client, n_docs)
            rpc = f"http://127.0.0.1:{first.env['XACTHUC_ANVIL_PORT']}"
            second = Server(data_dir, {"XACTHUC_RPC_URL": rpc}, extra_args=["--no-worker"])
            second.log_path = Path(tmp) / "serve-2.log"
            with second, httpx.Client(base_url=second.url, timeout=60) as client2:
                for c in (client, client2):
                    wait_for_source(c, links[-1])
                bodies = [json.dumps({"payload": link}).encode() for link in links]
                ports = [first.port, second.port]
                load = run_wrk if wrk_available() else _load
                load(ports, bodies, clients, 2.0)  # warm up
                cpu = [first.cpu_seconds(), second.cpu_seconds()]
                _progress(f"{clients} clients ({load.__name__}) for {seconds:.0f} s against ports {ports}")
                result = load(ports, bodies, clients, seconds)
                used = [(s.cpu_seconds() or 0) - (c or 0) for s, c in zip((first, second), cpu, strict=True)]
                if result["requests"]:
                    result["server_cpu_ms_per_request"] = round(sum(used) / result["requests"] * 1000, 3)
    result["target_per_s"] = TARGET_PER_S
    result["target_p99_ms"] = TARGET_P99_MS
    result["load_avg_before"] = load_before
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    result["note"] = (
        "two xacthuc serve processes (one with the worker and anvil, one --no-worker) on one SQLite data dir, "
        "each on its own port; the load (see load_generator) split between them; everything on the same cores"
    )
    return result


if __name__ == "__main__":
    json.dump(run(clients=int(sys.argv[1]) if len(sys.argv) > 1 else 8), sys.stdout, indent=2)
    sys.stdout.write("\n")
