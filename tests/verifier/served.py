"""A real city service for the third-party verifier's tests: the app on a real socket (uvicorn in a thread) over a
real anvil, with documents issued over HTTP and anchored by the worker driven step by step."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlmodel import Session

from identity.wallet import Wallet
from keys.bootstrap import City, bootstrap_city
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from tests.e2e.helpers import anchor_all
from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate
from xacthuc.devchain import AnvilNode, free_port, fund
from xacthuc.services import Services
from xacthuc.settings import Settings

PASSPHRASE = "a passphrase for the third-party verifier tests"
TIMEOUT = 30.0  # seconds a request may take before the test fails: a deadline, not a measurement
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
}


@dataclass
class Served:
    """The city service at ``base`` and the anvil node at ``anvil.url``."""

    base: str
    anvil: AnvilNode
    services: Services
    city: City
    api_keys: dict[str, str]

    @property
    def api_key(self) -> str:
        return self.api_keys["ubnd-hcm"]

    def issue(self, number: str, file: bytes) -> dict[str, Any]:
        r = httpx.post(
            f"{self.base}/v1/documents",
            data={**META, "number": number},
            files={"file": ("qd.pdf", file, "application/pdf")},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=TIMEOUT,
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def anchor(self) -> None:
        anchor_all(self.services)

    def revoke(self, document_id: str) -> None:
        r = httpx.post(
            f"{self.base}/v1/documents/{document_id}/revoke",
            json={"reason": "annulled"},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=TIMEOUT,
        )
        assert r.status_code in (200, 202), r.text
        anchor_all(self.services)  # the worker sends the revocation and sees it confirmed

    def presentation(self, wallet: Wallet, audience: str) -> str:
        """A citizen registered and given a digital ID by the police (``ca-hcm``), presented with two claims."""
        auth = {"Authorization": f"Bearer {self.api_keys['ca-hcm']}"}
        r = httpx.post(f"{self.base}/v1/citizens", json=CITIZEN, headers=auth, timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        body = {"holder_jwk": wallet.holder_jwk()}
        r = httpx.post(
            f"{self.base}/v1/citizens/{r.json()['id']}/credentials", json=body, headers=auth, timeout=TIMEOUT
        )
        assert r.status_code == 201, r.text
        now = datetime.now(UTC)
        wallet.import_credential(r.json()["credential"], now)
        return wallet.present(["given_name", "age_over_18"], audience=audience, now=now)

    def get(self, path: str) -> httpx.Response:
        r = httpx.get(f"{self.base}{path}", timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return r


@contextmanager
def _serve(services: Services, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def serve_city(tmp_path: Path, anvil: AnvilNode, registry: RegistryClient) -> Iterator[Served]:
    """A development city (demo agencies) served at ``http://127.0.0.1:<port>``, its links pointing there."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path / "var"
    engine = make_engine(f"sqlite:///{tmp_path / 'xacthuc.db'}")
    migrate(engine)
    with Session(engine, expire_on_commit=False) as session:
        now = datetime.now(UTC).replace(microsecond=0)
        city = bootstrap_city(data_dir, session, PASSPHRASE, now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    account = city.eth_account("ubnd-hcm")
    fund(anvil.url, account.address, 10**20)
    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        database_url=str(engine.url),
        revoke_wait=0,
    )
    services = Services(
        settings=settings,
        engine=engine,
        city=city,
        registry_client=registry,
        signing_accounts={account.address: account},
    )
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    keys = {a["id"]: a["api_key"] for a in creds["agencies"]}
    try:
        with _serve(services, port):
            yield Served(f"http://127.0.0.1:{port}", anvil, services, city, keys)
    finally:
        services.close()
        engine.dispose()
