"""``wrk``, the native HTTP load generator the verification benches use (``make bench`` installs Debian's): it costs
the shared cores far less CPU per request than a Python client, so the figures measure the server rather than the
client. ``wrk_verify.lua`` sends ``POST /v1/verify`` with the given bodies in turn and prints one summary line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["WRK_SCRIPT", "run_wrk", "wrk_available"]

WRK_SCRIPT = Path(__file__).with_name("wrk_verify.lua")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(ports: list[int], bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` keep-alive connections in all, spread over ``ports`` with one ``wrk`` process per port, for
    ``seconds``; each connection sends its next request when its answer is in (one connection: a sequential client).
    Its p50 is the request-weighted mean of the processes' p50s, its p99 the larger of their p99s (each process
    knows only its own distribution)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as f:
        f.write(b"\n".join(bodies) + b"\n")
        f.flush()
        env = {**os.environ, "XACTHUC_BENCH_BODIES": f.name}
        per_port = max(1, clients // len(ports))
        argv = ["wrk", "-t1", f"-c{per_port}", f"-d{seconds:g}s", "-s", str(WRK_SCRIPT)]
        procs = [
            subprocess.Popen([*argv, f"http://127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE, text=True)
            for port in ports
        ]
        outs = [p.communicate(timeout=seconds + 60)[0] for p in procs]
    rows = []
    for out in outs:
        line = next((x for x in out.splitlines() if x.startswith("XACTHUC_WRK ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no summary: {out[-500:]}")
        rows.append([int(v) for v in line.split()[1:]])
    requests = sum(r[0] for r in rows)
    bad_status, socket_errors = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return {
        "load_generator": "wrk",
        "clients": per_port * len(ports),
        "seconds": seconds,
        "requests": requests,
        "verifications_per_s": round(sum(r[0] / (r[1] / 1e6) for r in rows)),
        "p50_ms": round(sum(r[0] * r[4] for r in rows) / max(requests, 1) / 1000, 2),
        "p99_ms": round(max(r[5] for r in rows) / 1000, 2),
        "max_ms": round(max(r[6] for r in rows) / 1000, 2),
        "statuses": {"200": requests - bad_status, "other": bad_status},
        "socket_errors": socket_errors,
    }
