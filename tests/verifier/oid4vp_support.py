"""A harness for the OpenID4VP verifier's tests: its router on a small app over the migrated test database, the
credential verification a ``verifier.Verifier`` over a dict trust list, a clock the test moves, and a wallet written
here in Python (``identity.presentation.present`` with a ``P256Key``) that fetches request objects and answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from identity import service
from identity.presentation import present
from keys.generate import generate_signing_key
from keys.holder_key import P256Key
from keys.x509 import VerifierRequestKey, self_signed_certificate, verify_x509_hash_jws, x509_hash_client_id
from ledger.chain.proof import DocumentChainStatus, Proof
from ledger.errors import ChainUnavailable
from tests.identity.conftest import CITIZEN, ISSUER, NOW, STATUS_BASE, DictResolver, TestSigner
from verifier.oid4vp.api import build_router
from verifier.qr import qr_svg
from verifier.service import Verifier
from xacthuc.errors_http import install_error_handlers

PUBLIC = "https://verifier.example"


class _NoDocuments:
    def proof_for(self, leaf: bytes) -> Proof | None:
        return None

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise ChainUnavailable("no chain in these tests")


def request_key() -> VerifierRequestKey:
    signer = generate_signing_key("ES256")
    der = self_signed_certificate(signer, "verifier.example", NOW)
    return VerifierRequestKey(signer, der, x509_hash_client_id(der))


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Wallet:
    """A holder: its key and a credential bound to it, all claims disclosable."""

    credential: str
    key: P256Key

    def fetch(self, client: TestClient, wallet_url: str) -> dict[str, Any]:
        """Follow a request's wallet_url: GET request_uri, check the JWS with the x5c leaf against the client id."""
        params = parse_qs(urlsplit(wallet_url).fragment)
        client_id, request_uri = params["client_id"][0], params["request_uri"][0]
        r = client.get(urlsplit(request_uri).path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/oauth-authz-req+jwt")
        return verify_x509_hash_jws(r.text, client_id).payload

    def presentation(self, claims: list[str], *, audience: str, nonce: str, now: datetime = NOW) -> str:
        return present(self.credential, claims, self.key, audience=audience, nonce=nonce, now=now)

    @staticmethod
    def post(client: TestClient, response_uri: str, data: dict[str, str]) -> Any:
        return client.post(urlsplit(response_uri).path, data=data)

    def answer(self, client: TestClient, request: dict[str, Any], claims: list[str] | None = None, **kw: Any) -> Any:
        """Present ``claims`` (default: what the request asks) for the request object ``request`` and post it."""
        asked = [c["path"][0] for c in request["dcql_query"]["credentials"][0]["claims"]]
        p = self.presentation(
            claims if claims is not None else asked,
            audience=kw.pop("audience", request["client_id"]),
            nonce=kw.pop("nonce", request["nonce"]),
        )
        data = {"vp_token": json.dumps({"citizen_id": [p]}), "state": request["state"]}
        return self.post(client, request["response_uri"], data)


@dataclass
class Harness:
    client: TestClient
    clock: Clock
    key: VerifierRequestKey
    wallet: Wallet
    engine: Engine
    rng_calls: list[int] = field(default_factory=list)

    def create(self, claims: list[str], purpose: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"claims": claims}
        if purpose is not None:
            body["purpose"] = purpose
        r = self.client.post("/v1/presentation-requests", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def status(self, request_id: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/presentation-requests/{request_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())


def harness(engine: Engine) -> Iterator[Harness]:
    issuer = TestSigner()
    resolver = DictResolver()
    resolver.add(ISSUER, issuer)
    holder = P256Key.generate()
    with Session(engine) as s:
        citizen = service.register_citizen(s, CITIZEN, NOW, agency_id=ISSUER)
        _, credential = service.issue_credential(
            s, citizen.id, issuer, ISSUER, holder.public_jwk(), NOW, status_base_url=STATUS_BASE
        )
        s.commit()

    def status_list(uri: str) -> str:
        with Session(engine) as s:
            return service.status_list_token(s, uri.rsplit("/", 1)[1], issuer, status_base_url=STATUS_BASE, now=NOW)

    clock = Clock()
    none = _NoDocuments()
    verify = Verifier(trust=resolver, chain=none, status_lists=status_list, proofs=none, clock=clock)

    def session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    key = request_key()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(
        build_router(
            session=session, verify=verify, request_key=lambda: key, clock=clock, public_url=PUBLIC, qr_svg=qr_svg
        )
    )
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Harness(client, clock, key, Wallet(credential, holder), engine)
