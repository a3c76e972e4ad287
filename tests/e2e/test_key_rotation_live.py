"""Issue 8 item 5, as an operator meets it: ``xacthuc keys rotate`` and ``xacthuc agency create`` run in another
process while ``xacthuc serve`` runs. Documents signed with the new key (or by the new agency) verify at once, with
no cache to wait out and no restart, on the server and for a third party holding an older trust list."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from xacthuc.devchain import free_port

pytestmark = pytest.mark.anvil
ROOT = Path(__file__).resolve().parents[2]
FILE = "Quyết định số 17/QĐ-UBND về việc luân chuyển khóa (bản giả lập)".encode() * 20
META = {
    "number": "17/QĐ-UBND",
    "title": "Về việc luân chuyển khóa ký số",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}


def _xacthuc(*args: str) -> list[str]:
    return [sys.executable, "-c", "from xacthuc.cli import main; main()", *args]


class LiveServer:
    """``xacthuc serve`` in development mode on a fresh data dir, with its embedded anvil."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.anvil_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
        self.env.update(
            XACTHUC_DATA_DIR=str(data_dir),
            XACTHUC_PORT=str(self.port),
            XACTHUC_ANVIL_PORT=str(self.anvil_port),
            XACTHUC_DEV_MODE="true",
            XACTHUC_BATCH_INTERVAL="0.2",
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            _xacthuc("serve"),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def cli(self, *args: str) -> dict[str, Any]:
        """An operator's command against the same data dir, in its own process."""
        done = subprocess.run(_xacthuc(*args, "--json"), cwd=ROOT, env=self.env, capture_output=True, timeout=180)
        assert done.returncode == 0, done.stderr.decode()
        return dict(json.loads(done.stdout))

    def api_key(self, agency: str) -> str:
        creds = json.loads((self.data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
        return str(next(a["api_key"] for a in creds["agencies"] if a["id"] == agency))

    def issue(self, api_key: str, number: str = "17/QĐ-UBND") -> dict[str, Any]:
        r = httpx.post(
            f"{self.url}/v1/documents",
            data={**META, "number": number},  # an agency's number is taken once a year
            files={"file": ("decision.pdf", FILE, "application/pdf")},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def verify(self, payload: str) -> dict[str, Any]:
        r = httpx.post(f"{self.url}/v1/verify", json={"payload": payload}, timeout=30)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_anchored(self, document_id: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/v1/documents/{document_id}", timeout=10).json()["status"] != "anchored":
            assert time.monotonic() < deadline, "the document was not anchored in time"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = LiveServer(tmp_path_factory.mktemp("live") / "var")
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _checks(report: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c for c in report["checks"]}


def test_key_rotated_on_a_running_server_verifies_at_once(server: LiveServer, tmp_path: Path) -> None:
    key = server.api_key("ubnd-hcm")
    before = server.issue(key)  # the server has built (and cached) its trust list before the rotation
    assert server.verify(before["verify_url"])["verdict"] in ("pending", "valid")
    old_list = httpx.get(f"{server.url}/v1/trust-list", timeout=10).text

    rotated = server.cli("keys", "rotate", "ubnd-hcm")
    doc = server.issue(key, number="18/QĐ-UBND")
    report = server.verify(doc["verify_url"])  # no waiting for any cache
    trusted = _checks(report)["issuer_trusted"]
    assert trusted["status"] == "valid", report
    assert trusted["data"]["kid"] == rotated["kid"]
    assert report["verdict"] in ("pending", "valid"), report  # trusted and signed; the anchor may already be there
    server.wait_anchored(doc["id"])
    assert server.verify(doc["verify_url"])["verdict"] == "valid"
    assert server.verify(before["verify_url"])["verdict"] == "valid"  # the retired key's document still verifies

    # A third party whose bundle carries the trust list from before the rotation: it meets the new kid, fetches
    # the published list once (beside the bundle's trust_root_url), and decides.
    bundle = httpx.get(f"{server.url}/v1/documents/{doc['id']}/bundle", timeout=10).json()
    bundle["trust"]["trust_list"] = old_list
    (tmp_path / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    (tmp_path / "root.jwk").write_text(httpx.get(f"{server.url}/v1/trust-root", timeout=10).text, encoding="utf-8")
    third_party = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    args = ["verify", "bundle.json", "--rpc-url", f"http://127.0.0.1:{server.anvil_port}", "--trust-root", "root.jwk"]

    def verify_as_third_party(*extra: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            _xacthuc(*args, *extra, "--json"), cwd=tmp_path, env=third_party, capture_output=True, timeout=180
        )
        return done.returncode, json.loads(done.stdout)

    code, body = verify_as_third_party()
    assert (code, body["verdict"]) == (0, "valid"), body
    # Where the published list cannot be reached, the old list decides: untrusted, never valid.
    code, body = verify_as_third_party("--trust-list-url", f"http://127.0.0.1:{free_port()}/v1/trust-list")
    assert (code, body["verdict"]) == (1, "untrusted"), body
    assert not (tmp_path / "var").exists()  # the third party needed no data dir of its own


def test_agency_created_while_the_server_runs_anchors_and_verifies(server: LiveServer) -> None:
    created = server.cli(
        "agency", "create", "--name", "Ủy ban nhân dân Quận 3", "--roles", "documents", "--id", "ubnd-q3"
    )
    doc = server.issue(created["api_key"])
    report = server.verify(doc["verify_url"])
    assert _checks(report)["issuer_trusted"]["status"] == "valid", report
    assert report["verdict"] in ("pending", "valid"), report  # the worker may have anchored it already (0.2 s batches)
    server.wait_anchored(doc["id"])  # the worker found the new agency's account without a restart
    final = server.verify(doc["verify_url"])
    assert final["verdict"] == "valid", final
    assert final["issuer"]["id"] == "ubnd-q3"
