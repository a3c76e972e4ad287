"""Soak: mixed issue + verify load for ``--minutes`` against the production shape on PostgreSQL (issue 14).

``python -m bench.soak --minutes 10`` sets the city up as ``tests/e2e/test_scaled_out.py`` does (its ``City`` and
its exactly-once check are reused, so the soak and the test check the same things): PostgreSQL from Debian's
binaries (``tests.plugins.db.PostgresServer``), one anvil, ``xacthuc init``/``agency create``/``chain deploy``,
two ``xacthuc serve --no-worker`` API processes and one ``xacthuc worker``. ``--clients`` client processes then
run for the duration, each on its own keep-alive connection to one of the two APIs (alternately), each
iteration issuing one document (``POST /v1/documents``) and verifying ``--verify-per-issue`` documents it
issued earlier. At the end: every response must have been a success (any other status counts as an error), every
acknowledged document must end anchored exactly once (the test's check: one ``Anchored`` event per root, the
events' counts add up, the registry says each leaf is anchored), and the resident memory (RSS) of each API
process and the worker is reported at the start of the load, once a minute during it, and at its end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import queue as queue_module
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PUBLIC = "https://xacthuc.example.vn"
META = {
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2026",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2026-11-20",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _collect(
    results: Any, n: int, procs: dict[str, int], end_at: float
) -> tuple[list[dict[str, Any]], list[dict[str, int | None]]]:
    """The ``n`` clients' results (each sends one at the end), and each process's RSS once a minute until the load
    ends: whether memory levels off shows there, not in the end figure alone."""
    found: list[dict[str, Any]] = []
    samples: list[dict[str, int | None]] = []
    next_sample, give_up = time.time() + 60, end_at + 300
    while len(found) < n:
        try:
            found.append(results.get(timeout=max(0.1, min(next_sample, give_up) - time.time())))
        except queue_module.Empty:
            if time.time() >= give_up:
                raise TimeoutError(f"{n - len(found)} clients sent no result 5 min after the load's end") from None
        if next_sample <= time.time() < end_at:
            samples.append({name: _rss_kib(pid) for name, pid in procs.items()})
            next_sample += 60
    return found, samples


def _multipart(fields: dict[str, str], file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="qd.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _client(k: int, port: int, api_key: str, end_at: float, verify_per_issue: int, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    issued: list[dict[str, str]] = []
    errors: list[str] = []
    counts = {"issued": 0, "verified": 0, "not_valid": 0}
    i = 0
    while time.time() < end_at:
        number = f"{k * 1_000_000 + i + 1}/QĐ-UBND"  # unique across the clients
        body, ctype = _multipart({**META, "number": number}, f"%PDF-1.4 quyết định {number}".encode())
        conn.request("POST", "/v1/documents", body=body, headers={"Content-Type": ctype, "Authorization": api_key})
        r = conn.getresponse()
        data = r.read()
        if r.status != 201:
            errors.append(f"issue {r.status}: {data[:200]!r}")
        else:
            doc = json.loads(data)
            issued.append({"id": doc["id"], "verify_url": doc["verify_url"]})
            counts["issued"] += 1
        for j in range(verify_per_issue):
            if not issued:
                break
            target = issued[(i * verify_per_issue + j) % len(issued)]
            payload = json.dumps({"payload": target["verify_url"]}).encode()
            conn.request("POST", "/v1/verify", body=payload, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                errors.append(f"verify {r.status}: {data[:200]!r}")
                continue
            counts["verified"] += 1
            # a fresh document may still be pending (valid_pending or similar): only a rejection is counted
            if json.loads(data).get("verdict") not in ("valid", "pending"):
                counts["not_valid"] += 1
        i += 1
    conn.close()
    out.put({"documents": issued, "errors": errors[:20], "n_errors": len(errors), **counts})


def _wait_anchored_in_db(engine: Any, ids: list[str], deadline_s: float) -> dict[str, dict[str, Any]]:
    """Every acknowledged document's proof root and leaf once its batch is confirmed, read from the database in one
    statement a round (a GET per document, as the scaled-out test does for its few, took over ten minutes for the
    twenty thousand of a 10-minute soak), in the shape ``_assert_anchored_exactly_once`` takes."""
    from sqlalchemy import select

    from ledger.chain.outbox import CONFIRMED_STATES, AnchorBatch, AnchorLeaf
    from ledger.documents.issuing import DocumentRow

    d, leaf, batch = DocumentRow.__table__, AnchorLeaf.__table__, AnchorBatch.__table__  # type: ignore[attr-defined]
    query = select(d.c.id, d.c.commitment, batch.c.root, batch.c.state).select_from(
        d.join(leaf, leaf.c.data == d.c.commitment).join(batch, batch.c.id == leaf.c.batch_id)
    )
    wanted = set(ids)
    deadline = time.monotonic() + deadline_s
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        done = {
            row.id: {"proof": {"root": "0x" + bytes(row.root).hex(), "leaf": "0x" + bytes(row.commitment).hex()}}
            for row in rows
            if row.id in wanted and row.state in CONFIRMED_STATES
        }
        if len(done) == len(wanted):
            return done
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(wanted) - len(done)} acknowledged documents not anchored in {deadline_s} s")
        time.sleep(1.0)


def soak(minutes: float, clients: int, verify_per_issue: int) -> dict[str, Any]:
    from tests.e2e.test_scaled_out import City, _assert_anchored_exactly_once, _wait_ready
    from tests.plugins.db import PostgresServer, _pg_bindir
    from xacthuc.database import make_engine
    from xacthuc.devchain import AnvilNode, free_port, fund

    bindir = _pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries are missing (scripts/test.sh installs Debian's postgresql)")
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="xacthuc-soak-") as tmp:
        work = Path(tmp)
        pg = PostgresServer(bindir)
        pg.start()
        anvil = AnvilNode().start()
        city: City | None = None
        try:
            secret = work / "secrets" / "keystore_passphrase"
            secret.parent.mkdir(mode=0o700)
            secret.write_text("a passphrase for the soak\n", encoding="utf-8")
            db_url = pg.create_database()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("XACTHUC_", "PG"))}
            env.update(
                XACTHUC_DATA_DIR=str(work / "var"),
                XACTHUC_DATABASE_URL=db_url,
                XACTHUC_RPC_URL=anvil.url,
                XACTHUC_KEYSTORE_PASSPHRASE_FILE=str(secret),
                XACTHUC_PUBLIC_URL=PUBLIC,
                XACTHUC_BATCH_INTERVAL="1",
                XACTHUC_LOG_LEVEL="WARNING",
                XACTHUC_RATE_LIMITS="0",  # a soak from one address measures the service, not its 429 answers
            )
            city = City(env, make_engine(db_url), anvil, {}, "", "", work)
            made = city.cli("init")
            created = city.cli(
                "agency", "create", "--name", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "--roles", "documents",
                "--id", "ubnd-hcm",
            )  # fmt: skip
            city.keys["ubnd-hcm"] = str(created["api_key"])
            city.agency_address = str(created["eth_address"])
            fund(anvil.url, str(made["admin_address"]), 10**21)
            city.contract = str(city.cli("chain", "deploy")["contract"])
            fund(anvil.url, str(city.cli("chain", "status")["relayer"]), 10**21)
            apis = [city.start(name, "serve", "--no-worker", port=free_port()) for name in ("api-a", "api-b")]
            worker = city.start("worker-1", "worker")
            for api in apis:
                _wait_ready(api)
            procs = {p.name: p.popen.pid for p in (*apis, worker)}
            rss_start = {name: _rss_kib(pid) for name, pid in procs.items()}
            print(f"soak: {clients} clients for {minutes} min on {[a.base for a in apis]}", file=sys.stderr)
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            seconds = minutes * 60
            end_at = time.time() + seconds
            ports = [int(str(a.base).rsplit(":", 1)[1]) for a in apis]
            key = f"Bearer {city.keys['ubnd-hcm']}"
            workers = [
                ctx.Process(target=_client, args=(k, ports[k % 2], key, end_at, verify_per_issue, queue))
                for k in range(clients)
            ]
            for p in workers:
                p.start()
            results, rss_each_minute = _collect(queue, len(workers), procs, end_at)
            for p in workers:
                p.join(timeout=30)
            rss_end = {name: _rss_kib(pid) for name, pid in procs.items()}
            issued = {d["id"]: d for r in results for d in r["documents"]}
            anchored = _wait_anchored_in_db(city.engine, list(issued), deadline_s=600)
            _assert_anchored_exactly_once(city, anchored)
            return {
                "minutes": minutes,
                "clients": clients,
                "verify_per_issue": verify_per_issue,
                "issued": sum(r["issued"] for r in results),
                "verified": sum(r["verified"] for r in results),
                "verdicts_not_valid": sum(r["not_valid"] for r in results),
                "errors": sum(r["n_errors"] for r in results),
                "first_errors": [e for r in results for e in r["errors"]][:10],
                "issued_per_s": round(sum(r["issued"] for r in results) / seconds, 1),
                "verified_per_s": round(sum(r["verified"] for r in results) / seconds, 1),
                "anchored_exactly_once": len(anchored),
                "rss_kib_start": rss_start,
                "rss_kib_each_minute": rss_each_minute,
                "rss_kib_end": rss_end,
                "load_avg_before": load_before,
                "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            }
        finally:
            if city is not None:
                for proc in city.procs.values():
                    proc.stop()
                city.engine.dispose()
            anvil.stop()
            pg.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--verify-per-issue", type=int, default=4)
    args = parser.parse_args(argv)
    result = soak(args.minutes, args.clients, args.verify_per_issue)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["errors"] == 0 and result["verdicts_not_valid"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
