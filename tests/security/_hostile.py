"""The world the attack suites of issue 15 (authorisation, key timing, hostile inputs) run in: the real app from
``create_app`` over a migrated database, an in-process eth-tester registry, and a bootstrapped city with its demo
agencies plus a second documents agency and a second identity agency (so "another agency" has someone to be).

Built once per module (``world`` fixtures in the test files): every case reads the database before and after
(``World.snapshot``) to prove that a refused request changed nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_account import Account
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.routing import Route
from web3 import EthereumTesterProvider, Web3
from web3.types import Wei

from keys import agencies as ag
from keys.bootstrap import City, bootstrap_city
from keys.keystore import TEST_KDF
from keys.staff import create_staff
from keys.staff_sessions import open_session
from ledger.chain.client import RegistryClient
from ledger.chain.merkle import keccak256
from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate
from xacthuc.services import Services
from xacthuc.settings import Settings

PUBLIC = "https://xacthuc.hochiminhcity.gov.vn"
PASSPHRASE = "a passphrase for the attack suites"
LIMIT = 256 * 1024  # a small upload limit keeps "oversized" cheap
STAFF_PASSWORD = "Mật-khẩu-đủ-dài-2024"
META = {
    "number": "2392/QĐ-UBND",
    "title": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2024",
    "issuing_body": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
    "place": "Thành phố Hồ Chí Minh",
    "issued_on": "2024-07-15",
    "signer_name": "Nguyễn Văn Dũng",
    "signer_title": "Phó Chủ tịch",
    "signing_form": "KT.",
}
CITIZEN = {
    "cccd": "079303001234",
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "2003-05-17",
    "sex": "female",
    "place_of_origin": "Xã Phước Hưng, Huyện Long Điền, Tỉnh Bà Rịa - Vũng Tàu",
    "place_of_residence": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
}
#: Columns a request may touch without changing anything that matters: when a session was last seen.
VOLATILE = {("keys_staff_sessions", "last_seen_at")}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every ``(METHOD, path)`` the app answers, read from its own route table (mounts such as ``/static`` are
    files, not routes; ``HEAD`` goes with ``GET``)."""
    out: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute | Route):
            continue
        for method in ctx.methods or ():
            if method != "HEAD":
                out.add((method, str(ctx.path)))
    return out


@dataclass
class Staffer:
    username: str
    agency_id: str
    role: str
    cookie: str = ""
    csrf: str = ""


@dataclass
class World:
    client: TestClient
    engine: Engine
    city: City
    data_dir: Path
    keys: dict[str, str] = field(default_factory=dict)  # name -> API key
    ids: dict[str, str] = field(default_factory=dict)  # name -> resource id
    staff: dict[str, Staffer] = field(default_factory=dict)
    _meta: MetaData | None = None

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}

    # ------------------------------------------------------------------------------------------------ database
    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (volatile columns left out), sorted: equal before and after means unchanged."""
        if self._meta is None:
            self._meta = MetaData()
            self._meta.reflect(self.engine)
        meta = self._meta
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                cols = [c for c in table.columns if (name, c.name) not in VOLATILE]
                rows = conn.execute(select(*cols)).all()
                out[name] = sorted((tuple(repr(v) for v in row) for row in rows), key=repr)
        return out

    @contextmanager
    def unchanged(self, ignore: Collection[str] = ()) -> Iterator[None]:
        """The block changes no row of any table (but those in ``ignore``)."""
        before = self.snapshot()
        yield
        after = self.snapshot()
        changed = {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)} - set(ignore)
        assert not changed, f"refused request changed {sorted(changed)}"

    # ------------------------------------------------------------------------------------------------ keys
    def key_for(self, name: str, agency_id: str, roles: list[str], *, revoke: bool = False) -> str:
        """An API key of ``agency_id`` with ``roles`` (made on first use, ``revoke``d at once if asked)."""
        if name not in self.keys:
            now = datetime.now(UTC)
            with Session(self.engine) as session:
                issued = ag.issue_api_key(session, agency_id, roles, now)
                if revoke:
                    ag.revoke_api_key(session, issued.id, now)
                session.commit()
            self.keys[name] = issued.token
        return self.keys[name]

    def api_roles_of(self, agency_id: str) -> list[str]:
        """Every API role the agency may hold (its trust roles' ``:issue``/``:revoke``, and ``admin``)."""
        with Session(self.engine) as session:
            trust = ag.get_agency(session, agency_id).roles
        return [r for r in ag.API_ROLES if r == "admin" or r.split(":", 1)[0] in trust]

    # ------------------------------------------------------------------------------------------------ staff
    def sign_in(self, username: str, *, age: timedelta = timedelta(0)) -> Staffer:
        """A session for ``username`` opened ``age`` ago (an expired one when older than the idle limit)."""
        staffer = self.staff[username]
        with Session(self.engine) as session:
            from keys.staff import get_staff

            opened = open_session(session, get_staff(session, username), datetime.now(UTC) - age)
            session.commit()
            return Staffer(username, staffer.agency_id, staffer.role, opened.token, opened.row.csrf_token)

    def cookies(self, staffer: Staffer | None) -> dict[str, str]:
        return {} if staffer is None else {"xacthuc_session": staffer.cookie}


def _registry() -> RegistryClient:
    deployer = Account.from_key(keccak256(b"xacthuc attack suites deployer"))
    w3 = Web3(EthereumTesterProvider())
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": deployer.address, "value": Wei(10**21)})
    w3.eth.wait_for_transaction_receipt(tx)
    return RegistryClient.deploy(w3, deployer, deployer.address, timeout=10)


@contextmanager
def build_world(root: Path, database_url: str | None = None, *, chain: bool = True) -> Iterator[World]:
    """The world in ``root`` (SQLite there unless ``database_url``), its client open for the block. Without
    ``chain`` (for suites that never get past authentication) no registry is deployed and nothing is seeded."""
    data_dir = root / "var"
    engine = make_engine(database_url or f"sqlite:///{root / 'attack.db'}")
    migrate(engine)
    now = datetime.now(UTC) - timedelta(minutes=1)
    with Session(engine, expire_on_commit=False) as session:
        city = bootstrap_city(data_dir, session, PASSPHRASE, now, kdf=TEST_KDF)
        other_docs = city.provision_agency(
            session,
            name="Ủy ban nhân dân Quận 1",
            roles=["documents", "documents:issue", "documents:revoke", "admin"],
            now=now,
            agency_id="ubnd-q1",
        )
        other_id = city.provision_agency(
            session,
            name="Công an Quận 1",
            roles=["identity", "identity:issue", "identity:revoke", "admin"],
            now=now,
            agency_id="ca-q1",
        )
        for agency_id, username, role in [
            ("ubnd-hcm", "clerk.ubnd", "clerk"),
            ("ubnd-hcm", "manager.ubnd", "manager"),
            ("ubnd-q1", "clerk.q1", "clerk"),
            ("ubnd-q1", "manager.q1", "manager"),
            ("ca-hcm", "clerk.ca", "clerk"),
            ("ca-q1", "clerk.caq1", "clerk"),
        ]:
            create_staff(session, agency_id=agency_id, username=username, role=role, password=STAFF_PASSWORD, now=now)
        session.commit()
    creds = json.loads((data_dir / "dev-credentials.json").read_text(encoding="utf-8"))
    settings = Settings(_env_file=None, data_dir=data_dir, public_url=PUBLIC, upload_limit=LIMIT, revoke_wait=0)
    services = Services(settings=settings, engine=engine, city=city, registry_client=_registry() if chain else None)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        world = World(client, engine, city, data_dir)
        world.keys["city_admin"] = creds["admin_token"]
        for a in creds["agencies"]:
            world.keys[a["id"]] = a["api_key"]
        assert other_docs.api_key is not None and other_id.api_key is not None
        world.keys["ubnd-q1"] = other_docs.api_key.token
        world.keys["ca-q1"] = other_id.api_key.token
        for agency_id, username, role in [
            ("ubnd-hcm", "clerk.ubnd", "clerk"),
            ("ubnd-hcm", "manager.ubnd", "manager"),
            ("ubnd-q1", "clerk.q1", "clerk"),
            ("ubnd-q1", "manager.q1", "manager"),
            ("ca-hcm", "clerk.ca", "clerk"),
            ("ca-q1", "clerk.caq1", "clerk"),
        ]:
            world.staff[username] = Staffer(username, agency_id, role)
        if chain:
            _seed(world)
        yield world
    engine.dispose()


def _seed(world: World) -> None:
    """The first agencies' resources that the other agencies will try to act on."""
    c = world.client
    r = c.post("/v1/documents", data=META, files={"file": ("d.pdf", b"%PDF-1.4 seed")}, headers=world.auth("ubnd-hcm"))
    assert r.status_code == 201, r.text
    world.ids["document"] = r.json()["id"]
    r = c.post("/v1/citizens", json=CITIZEN, headers=world.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    world.ids["citizen"] = r.json()["id"]
    r = c.post(f"/v1/citizens/{world.ids['citizen']}/credentials", json={}, headers=world.auth("ca-hcm"))
    assert r.status_code == 201, r.text
    world.ids["credential"] = r.json()["id"]
