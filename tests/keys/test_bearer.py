"""Issue 8, item 13: ``Authorization: Bearer Bearer <key>`` was accepted.

FastAPI's ``HTTPBearer`` split the header at its first space and ``authenticate`` then stripped a second ``Bearer``.
Now one strict parser (``keys.agencies.bearer_token``, RFC 6750) reads the header for every API-key route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.agencies import bearer_token
from keys.bootstrap import bootstrap_city
from keys.errors import Unauthenticated
from keys.keystore import TEST_KDF
from ledger.chain.client import RegistryClient
from xacthuc.app import create_app
from xacthuc.services import Services
from xacthuc.settings import Settings

KEY = "xk_0123456789abcdef_AbC-_12"


@pytest.mark.parametrize("header", [f"Bearer {KEY}", f"bearer {KEY}", f"BEARER {KEY}", f"Bearer  {KEY}"])
def test_bearer_token_reads_one_scheme_and_one_token(header: str) -> None:
    assert bearer_token(header) == KEY


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        KEY,
        f"Bearer Bearer {KEY}",
        f"Bearer bearer {KEY}",
        f"Bearer {KEY} extra",
        f"Bearer\t{KEY}",
        f" Bearer {KEY}",
        f"Bearer {KEY}\n",
        f"Basic {KEY}",
        f"Bearer{KEY}",
        f"Bearer {KEY},Bearer {KEY}",
    ],
)
def test_bearer_token_refuses_anything_else(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


@pytest.fixture
def api(engine: Engine, tmp_path: Path, registry: RegistryClient) -> Iterator[tuple[TestClient, dict[str, str]]]:
    data_dir = tmp_path / "var"
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, "bearer passphrase", now - timedelta(minutes=1), kdf=TEST_KDF)
        session.commit()
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    keys = {a["id"]: a["api_key"] for a in creds["agencies"]}
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    services = Services(settings=settings, engine=engine, city=city, registry_client=registry)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client, keys


def test_bearer_bearer_api_key_is_refused(api: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = api
    routes = [  # keys.api.require (documents and identity) and identity's require_any
        ("/v1/documents", keys["ubnd-hcm"]),
        ("/v1/citizens", keys["ca-hcm"]),
        ("/v1/credentials/nope/revoke", keys["ca-hcm"]),
    ]
    for path, key in routes:
        r = client.post(path, json={}, headers={"Authorization": f"Bearer Bearer {key}"})
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == "UNAUTHENTICATED"
        assert r.headers["www-authenticate"].startswith("Bearer")
        for good in (f"Bearer {key}", f"bearer {key}"):
            r = client.post(path, json={}, headers={"Authorization": good})
            assert r.status_code not in (401, 403), (path, r.text)  # past authentication: the body is wrong
